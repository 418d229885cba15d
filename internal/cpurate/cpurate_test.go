package cpurate_test

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/cpurate"
)

// TestSample: the first sample reads twice FirstInterval apart; later ones
// use the previous read; a counter that goes back gives no figure.
func TestSample(t *testing.T) {
	var tr cpurate.Tracker
	var reads int
	counter := uint64(0)
	read := func() (uint64, error) { reads++; counter += uint64(cpurate.FirstInterval) / 2; return counter, nil }
	began := time.Now()
	p, err := tr.Sample(context.Background(), "c1", read)
	if err != nil || p == nil || reads != 2 || time.Since(began) < cpurate.FirstInterval {
		t.Fatalf("first Sample = %v, %v after %d reads in %s", p, err, reads, time.Since(began))
	}
	if *p <= 0 || *p > 60 {
		t.Errorf("half a CPU busy = %.1f %%, want about 50", *p)
	}
	if p, _ = tr.Sample(context.Background(), "c1", read); reads != 3 || p == nil {
		t.Errorf("second Sample read %d times (want 3) = %v", reads, p)
	}
	back := func() (uint64, error) { return 0, nil }
	if p, err := tr.Sample(context.Background(), "c1", back); err != nil || p != nil {
		t.Errorf("a counter that went back = %v, %v; want no figure", p, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Sample(ctx, "c2", read); err == nil {
		t.Error("a first Sample with a done context succeeded")
	}
}
