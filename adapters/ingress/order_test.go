package ingress_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// stopBlockingDriver holds every Stop, and so the game's lease, until
// release is closed.
type stopBlockingDriver struct {
	ports.RuntimeDriver
	entered chan<- struct{}
	release <-chan struct{}
}

func (d stopBlockingDriver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	hold(ctx, d.entered, d.release)
	return d.RuntimeDriver.Stop(ctx, id, timeout)
}

// TestRedeliveredStartWaitingOnANewerStopIsSuperseded is the race of
// issue 11: instance A runs a start but dies before its result is written;
// instance B takes the game's newer stop and holds the lease while it runs;
// instance C claims the start meanwhile. The start must not run once the
// stop releases the lease: it would undo the newer stop.
func TestRedeliveredStartWaitingOnANewerStopIsSuperseded(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e, fq := newLossyEnv(t, url, time.Minute)
		// Instance A: the start runs, its result is lost, the job stays pending.
		e.start()
		startID := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		e.waitFor("the start to run and lose its result", func() bool {
			return e.driver.Calls("Start") == 1 && fq.failures.Load() == 0
		})
		e.stop()
		if rs := e.results(); len(rs) != 0 {
			t.Fatalf("results after instance A = %v, want none", rs)
		}
		const claimIdle = time.Second
		e.waitFor("the start to sit idle", func() bool { return e.idle(startID) > claimIdle+claimIdle/2 })

		// Instance B: takes the newer stop and holds the lease inside Stop.
		stopID := e.add(e.streams.StopJobs, "game_id", "g1", "reason", "game_finished")
		entered, release := make(chan struct{}, 1), make(chan struct{})
		qb, err := e.client.Queue(e.ctx, "worker-b")
		if err != nil {
			t.Fatalf("Queue: %v", err)
		}
		cfgB := e.cfg
		cfgB.Queue = qb
		cfgB.Services = mustServices(t, e.store, e.leases,
			stopBlockingDriver{RuntimeDriver: e.driver, entered: entered, release: release})
		stopB := e.run(cfgB)
		select {
		case <-entered:
		case <-time.After(15 * time.Second):
			t.Fatal("the stop never reached the driver")
		}

		// Instance C: claims the idle start (its second delivery) while the
		// stop holds the lease.
		tries := e.leases.tries.Load()
		qc, err := e.client.Queue(e.ctx, "worker-c")
		if err != nil {
			t.Fatalf("Queue: %v", err)
		}
		cfgC := e.cfg
		cfgC.Queue, cfgC.ClaimIdle = qc, claimIdle
		stopC := e.run(cfgC)
		e.waitFor("the claimed start to meet the held lease", func() bool { return e.leases.tries.Load() > tries })
		close(release)

		got := e.waitResults(2)
		stopB()
		stopC()
		if got[stopID]["outcome"] != "success" {
			t.Fatalf("stop result = %v", got[stopID])
		}
		if r := got[startID]; r["error_code"] != string(core.CodeConflict) || !strings.Contains(r["error_message"], "newer stream job") {
			t.Errorf("redelivered start = %v, want a superseded conflict", r)
		}
		if rec, err := e.store.Get(e.ctx, "g1"); err != nil || rec.Status != core.StatusStopped {
			t.Errorf("game after the stale start = %+v, %v; want stopped", rec, err)
		}
		if n := e.driver.Calls("Start"); n != 1 {
			t.Errorf("driver Start called %d times, want 1", n)
		}
		e.finish(2)
	})
}
