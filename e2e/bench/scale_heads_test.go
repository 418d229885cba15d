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
// listing the matching containers. The two kinds of pass alternate, the
// first of each round swapping; wall time and this process's CPU time
// (getrusage: user + system, the PostgreSQL server's not included) per pass.
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
				deps := s.deps
				deps.Records = wholeRecords{deps.Records}
				whole, err := lifecycle.New(deps)
				if err != nil {
					t.Fatal(err)
				}
				passes := []*lifecycle.Reconciler{s.services.NewReconciler(2 * time.Minute), whole.NewReconciler(2 * time.Minute)}
				var wall, cpu [2][]time.Duration
				for i := range rounds {
					for k := range 2 {
						k = (k + i) % 2
						w, c := timePass(t, passes[k], n)
						wall[k], cpu[k] = append(wall[k], w), append(cpu[k], c)
					}
				}
				t.Logf("FIGURE reconcile pass over %d running records (%s, fake driver listing %d containers, %d alternating rounds): "+
					"record heads median %s wall, %s CPU; whole records median %s wall, %s CPU; heads/whole wall %.2f×, CPU %.2f× "+
					"(heads wall %s; whole wall %s)", n, st.name, n, rounds,
					ms(median(wall[0])), ms(median(cpu[0])), ms(median(wall[1])), ms(median(cpu[1])),
					float64(median(wall[0]))/float64(median(wall[1])), float64(median(cpu[0]))/float64(median(cpu[1])),
					msList(wall[0]), msList(wall[1]))
			})
		}
	}
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
