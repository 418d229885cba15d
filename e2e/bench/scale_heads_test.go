//go:build bench

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// wholeRecords is a store whose ListHeads reads whole records through List
// and cuts them down: a reconcile pass on it pays what a pass paid before
// ListHeads (every column read, the JSON columns decoded).
type wholeRecords struct{ ports.RecordStore }

func (w wholeRecords) ListHeads(ctx context.Context, q ports.ListQuery) ([]core.RecordHead, string, error) {
	recs, next, err := w.List(ctx, q)
	heads := make([]core.RecordHead, len(recs))
	for i, r := range recs {
		heads[i] = r.Head()
	}
	return heads, next, err
}

// TestScaleReconcileHeads compares, side by side in one run, reconcile
// passes that list record heads (ListHeads, what Reconciler.Pass does)
// with passes that list whole records (wholeRecords), over 10,000 and
// 100,000 running records on PostgreSQL and on SQLite, the fake driver
// listing the matching containers. On PostgreSQL a third kind of pass reads
// the heads as before the cached plan (bun through database/sql: a store
// opened with Interpolate on the same database). The kinds of pass rotate,
// the first of each round moving on; wall time and this process's CPU time
// (getrusage: user + system, the PostgreSQL server's not included) per
// pass. Each round also times the fake driver's List of the containers
// alone: it is the test's cost, not rtmanager's, and the figures give the
// heads pass without it too.
func TestScaleReconcileHeads(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) ports.Store
	}{
		{"PostgreSQL", func(*testing.T) ports.Store { return nil }},
		{"SQLite", openSQLite},
	}
	for _, st := range stores {
		for _, n := range []int{10_000, 100_000} {
			t.Run(fmt.Sprintf("%s/%d", st.name, n), func(t *testing.T) {
				const rounds = 6
				s := newStack(t, st.open(t))
				seedFleet(t, s, n)
				names := []string{"record heads", "whole records"}
				passes := []*lifecycle.Reconciler{s.services.NewReconciler(2 * time.Minute), reconcilerOn(t, s, wholeRecords{s.deps.Records})}
				if s.pgURL != "" {
					names = append(names, "heads through bun")
					passes = append(passes, reconcilerOn(t, s, timedStore{Store: openInterpolated(t, s.pgURL), t: s.timings}))
				}
				wall, cpu := make([][]time.Duration, len(passes)), make([][]time.Duration, len(passes))
				var listWall, listCPU []time.Duration
				for i := range rounds {
					for k := range passes {
						k = (k + i) % len(passes)
						w, c := timePass(t, passes[k], n)
						wall[k], cpu[k] = append(wall[k], w), append(cpu[k], c)
					}
					w, c := timeList(t, s, n)
					listWall, listCPU = append(listWall, w), append(listCPU, c)
				}
				var figs []string
				for k, name := range names {
					figs = append(figs, fmt.Sprintf("%s median %s wall, %s CPU (wall %s)", name, ms(median(wall[k])),
						ms(median(cpu[k])), msList(wall[k])))
				}
				t.Logf("FIGURE reconcile pass over %d running records (%s, fake driver listing %d containers, %d rotating rounds): %s; "+
					"heads/whole wall %.2f×, CPU %.2f×; the fake driver's List alone median %s wall, %s CPU, "+
					"so the heads pass without it %s wall, %s CPU (%.2f µs CPU per record)", n, st.name, n, rounds,
					strings.Join(figs, "; "),
					float64(median(wall[0]))/float64(median(wall[1])), float64(median(cpu[0]))/float64(median(cpu[1])),
					ms(median(listWall)), ms(median(listCPU)), ms(median(wall[0])-median(listWall)),
					ms(median(cpu[0])-median(listCPU)), float64(median(cpu[0])-median(listCPU))/1e3/float64(n))
				if len(passes) > 2 {
					t.Logf("FIGURE heads pass over %d records on PostgreSQL, cached plan on pgx / bun through database/sql: "+
						"wall %.2f×, CPU %.2f× (medians; %s vs %s CPU)", n,
						float64(median(wall[0]))/float64(median(wall[2])), float64(median(cpu[0]))/float64(median(cpu[2])),
						ms(median(cpu[0])), ms(median(cpu[2])))
				}
			})
		}
	}
}

// reconcilerOn returns a reconciler on s's dependencies with records.
func reconcilerOn(tb testing.TB, s *stack, records ports.RecordStore) *lifecycle.Reconciler {
	tb.Helper()
	deps := s.deps
	deps.Records = records
	svc, err := lifecycle.New(deps)
	if err != nil {
		tb.Fatal(err)
	}
	return svc.NewReconciler(2 * time.Minute)
}

// openInterpolated opens a second store on the PostgreSQL database url
// whose statements bun renders and runs through database/sql.
func openInterpolated(t *testing.T, url string) ports.Store {
	t.Helper()
	db, err := sqlstore.OpenConfig(context.Background(), withURL(sqlstore.Config{Interpolate: true}, url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// timeList times the fake driver's List of the n managed containers alone.
func timeList(tb testing.TB, s *stack, n int) (wall, cpu time.Duration) {
	tb.Helper()
	c0, begin := processCPU(tb), time.Now()
	cs, err := s.driver.List(context.Background(), map[string]string{ports.LabelManaged: "true"})
	wall, cpu = time.Since(begin), processCPU(tb)-c0
	if err != nil || len(cs) != n {
		tb.Fatalf("fake driver List: %d containers, %v; want %d", len(cs), err, n)
	}
	return wall, cpu
}

// timePass runs one pass of r over n consistent games and returns its wall
// time and this process's CPU time over it.
func timePass(tb testing.TB, r *lifecycle.Reconciler, n int) (wall, cpu time.Duration) {
	tb.Helper()
	c0, begin := processCPU(tb), time.Now()
	rep, err := r.Pass(context.Background())
	wall, cpu = time.Since(begin), processCPU(tb)-c0
	if err != nil {
		tb.Fatal(err)
	}
	if rep.Records != n || rep.Containers != n || rep.Disappeared+rep.Exited+rep.Orphans+rep.Skipped+rep.Failed != 0 {
		tb.Fatalf("reconcile pass over healthy games: %+v", rep)
	}
	return wall, cpu
}

// processCPU returns the user plus system CPU time this process used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openSQLite opens and migrates a store on a fresh SQLite file.
func openSQLite(t *testing.T) ports.Store {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.OpenConfig(ctx, sqlstore.Config{URL: "sqlite://" + filepath.Join(t.TempDir(), "rtmanager.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// msList formats ds as milliseconds, comma-separated.
func msList(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return strings.Join(out, ", ")
}
