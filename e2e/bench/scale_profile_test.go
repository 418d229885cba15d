//go:build bench

package bench

import (
	"os"
	"runtime/pprof"
	"testing"
	"time"
)

// TestScaleReconcileProfile writes a CPU profile of reconcile passes over
// 100,000 running records on PostgreSQL to $RTMANAGER_BENCH_CPUPROFILE (the
// seeding is not in it), and logs each pass's wall and CPU time. Skipped
// when the variable is unset.
func TestScaleReconcileProfile(t *testing.T) {
	path := os.Getenv("RTMANAGER_BENCH_CPUPROFILE")
	if path == "" {
		t.Skip("RTMANAGER_BENCH_CPUPROFILE names no file")
	}
	const n, passes = 100_000, 8
	s := newStack(t, nil)
	seedFleet(t, s, n)
	r := s.services.NewReconciler(2 * time.Minute)
	timePass(t, r, n) // warm: the heads map is sized from the last pass
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	defer pprof.StopCPUProfile()
	for range passes {
		w, c := timePass(t, r, n)
		t.Logf("pass: wall %s, CPU %s", ms(w), ms(c))
	}
}
