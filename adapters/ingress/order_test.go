package ingress_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/ingress"
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
	select {
	case d.entered <- struct{}{}:
	default:
	}
	select {
	case <-d.release:
	case <-ctx.Done():
	}
	return d.RuntimeDriver.Stop(ctx, id, timeout)
}

// idle returns how long the pending entry key ("<stream> <id>") has been
// idle, 0 when it is not pending.
func (e *env) idle(key string) time.Duration {
	e.t.Helper()
	stream, id, _ := strings.Cut(key, " ")
	rows, err := e.raw.Do(e.ctx, e.raw.B().Xpending().Key(stream).Group(ports.ConsumerGroup).
		Start(id).End(id).Count(1).Build()).ToArray()
	if err != nil || len(rows) == 0 {
		return 0
	}
	f, err := rows[0].ToArray()
	if err != nil || len(f) < 4 {
		return 0
	}
	ms, _ := f[2].AsInt64()
	return time.Duration(ms) * time.Millisecond
}

// TestRedeliveredStartWaitingOnANewerStopIsSuperseded is the race of
// issue 11: instance A runs a start but dies before its result is written;
// instance B takes the game's newer stop and holds the lease while it runs;
// instance C claims the start meanwhile. The start must not run once the
// stop releases the lease: it would undo the newer stop.
func TestRedeliveredStartWaitingOnANewerStopIsSuperseded(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		fq := &failingQueue{}
		fq.failures.Store(1)
		e := newEnv(t, url, func(c *ingress.Config) {
			fq.JobQueue = c.Queue
			c.Queue = fq
			c.CompleteRetry = time.Millisecond
			c.ClaimIdle = time.Minute
		})
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
