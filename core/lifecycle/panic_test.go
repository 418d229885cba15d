package lifecycle_test

import (
	"context"
	"sync"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// panicProber panics when it probes endpoint and probes others with next.
type panicProber struct {
	next     ports.Prober
	endpoint string
	mu       sync.Mutex
	probed   map[string]int
}

func (p *panicProber) Probe(ctx context.Context, endpoint string) error {
	p.mu.Lock()
	p.probed[endpoint]++
	p.mu.Unlock()
	if endpoint == p.endpoint {
		panic("prober bug on " + endpoint)
	}
	return p.next.Probe(ctx, endpoint)
}

// TestProbePanicRecovered: a probe that panics on one engine neither
// crashes the process nor stops the other engines' probes; the panic is
// counted (rtmanager_panics_total{where="probe"}) on every pass.
func TestProbePanicRecovered(t *testing.T) {
	tel := memory.NewTelemetry()
	prober := &panicProber{probed: map[string]int{}}
	w := newWorld(t, func(d *lifecycle.Deps) {
		prober.next = d.Prober
		d.Prober, d.Telemetry = prober, tel
	})
	w.seed("bad", core.StatusRunning)
	w.seed("good", core.StatusRunning)
	bad, _ := w.record("bad")
	good, _ := w.record("good")
	prober.mu.Lock()
	prober.endpoint = bad.Endpoint
	prober.probed = map[string]int{} // forget the readiness probes of the starts
	prober.mu.Unlock()
	if bad.Endpoint == good.Endpoint {
		t.Fatalf("both games share endpoint %s", bad.Endpoint)
	}
	m := w.svc.NewMonitor(1)
	_ = w.drv.SetReady(good.ContainerID, false)
	for range 2 {
		if err := m.ProbeAll(w.ctx); err != nil {
			t.Fatalf("ProbeAll: %v", err)
		}
	}
	if prober.probed[good.Endpoint] != 2 || prober.probed[bad.Endpoint] != 2 {
		t.Fatalf("probes = %v, want 2 each", prober.probed)
	}
	if n := tel.Panics("probe"); n != 2 {
		t.Fatalf("probe panics counted = %d, want 2", n)
	}
	var failed bool
	for _, e := range w.health.EventsOf("good") {
		failed = failed || e.Type == core.EventHealthCheckFailed
	}
	if !failed {
		t.Fatalf("the good engine's failed probe was not reported next to the panicking one: %v", w.health.EventsOf("good"))
	}
}
