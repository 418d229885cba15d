package sqlstore_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestHeadsCachedPlanMatchesBun reads record heads on PostgreSQL through
// the cached plan on pgx (the default store) and through bun on
// database/sql (a store with Interpolate on the same database), over 2,500
// rows of every status, ids of varying length, empty container ids and
// pending restarts, in pages longer than the first allocation of a page
// (1,000 heads) and shorter ones, unfiltered and by status: both must
// return the same cursors, and the heads of the records List reads.
func TestHeadsCachedPlanMatchesBun(t *testing.T) {
	url := testenv.PostgresURL(t)
	hot := mustOpen(t, url)
	bun := mustOpenConfig(t, sqlstore.Config{URL: url, Interpolate: true})
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 2500
	if _, err := db.ExecContext(t.Context(), `INSERT INTO runtime_records
		(game_id, status, current_container_id, generation, created_at, last_op_at, next_restart_at)
		SELECT 'hd-' || repeat('x', i % 7) || i,
			(ARRAY['starting','running','stopped','removed'])[1 + i % 4],
			CASE WHEN i % 5 = 0 THEN '' ELSE md5(i::text) || repeat('c', i % 3) END,
			i, now(), now(),
			CASE WHEN i % 9 = 0 THEN timestamptz '2026-11-26 12:00:00.123456+00' + i * interval '1 second' END
		FROM generate_series(1, $1) i`, n); err != nil {
		t.Fatal(err)
	}
	for _, st := range []core.Status{"", core.StatusStarting, core.StatusRunning, core.StatusStopped} {
		want := listedHeads(t, hot, st)
		if len(want) == 0 || (st == "" && len(want) != n) {
			t.Fatalf("status %q: List read %d records", st, len(want))
		}
		for _, limit := range []int{10_000, 1_500, 700} {
			name := fmt.Sprintf("status %q limit %d", st, limit)
			got, gotNexts := walkAll(t, hot, ports.ListQuery{Status: st, Limit: limit})
			viaBun, bunNexts := walkAll(t, bun, ports.ListQuery{Status: st, Limit: limit})
			if fmt.Sprint(gotNexts) != fmt.Sprint(bunNexts) {
				t.Errorf("%s: cursors %v, bun's %v", name, gotNexts, bunNexts)
			}
			sameHeads(t, name+" (pgx)", got, want)
			sameHeads(t, name+" (bun)", viaBun, want)
		}
	}
}

// listedHeads returns the heads of the records List reads with status st
// (whole records through bun's model scan, cut to their heads).
func listedHeads(t *testing.T, s ports.RecordStore, st core.Status) []core.RecordHead {
	t.Helper()
	var out []core.RecordHead
	q := ports.ListQuery{Status: st, Limit: 1000}
	for range 100 {
		recs, next, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		for _, r := range recs {
			out = append(out, r.Head())
		}
		if next == "" {
			return out
		}
		q.After = next
	}
	t.Fatalf("List(%+v): more than 100 pages", q)
	return nil
}

// sameHeads fails t unless got and want are the same heads.
func sameHeads(t *testing.T, name string, got, want []core.RecordHead) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d heads, want %d", name, len(got), len(want))
	}
	for i := range want {
		if headString(got[i]) != headString(want[i]) {
			t.Fatalf("%s: head %d = %s, want %s", name, i, headString(got[i]), headString(want[i]))
		}
	}
}

// walkAll reads every page of q and returns the heads and the cursors.
func walkAll(t *testing.T, s ports.RecordStore, q ports.ListQuery) (all []core.RecordHead, nexts []string) {
	t.Helper()
	for range 100 {
		page, next, err := s.ListHeads(t.Context(), q)
		if err != nil {
			t.Fatalf("ListHeads(%+v): %v", q, err)
		}
		all, nexts = append(all, page...), append(nexts, next)
		if next == "" {
			return all, nexts
		}
		q.After = next
	}
	t.Fatalf("ListHeads(%+v): more than 100 pages", q)
	return nil, nil
}

// headString spells out h, its restart time in UTC to the microsecond.
func headString(h core.RecordHead) string {
	restart := "none"
	if h.NextRestartAt != nil {
		restart = h.NextRestartAt.Format(time.RFC3339Nano) + " " + h.NextRestartAt.Location().String()
	}
	return fmt.Sprintf("{%q %q %q %d %s}", h.GameID, h.Status, h.ContainerID, h.Generation, restart)
}

// BenchmarkListHeads reads a page of 10,000 running heads on PostgreSQL
// through the cached plan on pgx ("pgx") and through bun on database/sql
// ("bun"), alternating sub-benchmarks of the same database.
func BenchmarkListHeads(b *testing.B) {
	url := testenv.PostgresURL(b)
	stores := map[string]*sqlstore.Store{"pgx": mustOpen(b, url),
		"bun": mustOpenConfig(b, sqlstore.Config{URL: url, Interpolate: true})}
	db, err := sql.Open("pgx", url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(b.Context(), `INSERT INTO runtime_records
		(game_id, status, current_container_id, generation, created_at, last_op_at)
		SELECT format('bh-abcd-%s', lpad(i::text, 5, '0')), 'running', md5(i::text) || md5((i + 1)::text), 1, now(), now()
		FROM generate_series(1, 10000) i`); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"pgx", "bun", "pgx", "bun"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				page, _, err := stores[name].ListHeads(b.Context(), ports.ListQuery{Status: core.StatusRunning, Limit: 10_000})
				if err != nil || len(page) != 10_000 {
					b.Fatalf("ListHeads: %d heads, %v", len(page), err)
				}
			}
		})
	}
}
