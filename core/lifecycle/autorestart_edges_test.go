package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// countingLeases counts lease acquisitions.
type countingLeases struct {
	ports.LeaseStore
	tries atomic.Int64
}

func (l *countingLeases) TryAcquire(ctx context.Context, game, token string, ttl time.Duration) (bool, error) {
	l.tries.Add(1)
	return l.LeaseStore.TryAcquire(ctx, game, token, ttl)
}

// waitFor polls cond every few milliseconds until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// TestAutoRestartRunRetriesBusy: Run meets the game's lease held, leaves
// the game stopped, and tries again BusyRetry later, when the restart goes
// through.
func TestAutoRestartRunRetriesBusy(t *testing.T) {
	var leases *countingLeases
	w, _ := restartWorld(t, func(d *lifecycle.Deps) {
		leases = &countingLeases{LeaseStore: d.Leases}
		d.Leases = leases
	})
	w.startWith("g", `{"mode":"always"}`)
	first := w.expectStatus("g", core.StatusRunning)
	rec := w.crash("g", 1) // schedules the restart in this instance
	if ok, err := w.leases.TryAcquire(w.ctx, "g", "other", time.Hour); err != nil || !ok {
		t.Fatalf("take lease: %v %v", ok, err)
	}
	tries := leases.tries.Load()
	w.clock.Set(*rec.NextRestartAt)

	ar := w.svc.NewAutoRestarter()
	ar.BusyRetry = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { defer close(done); ar.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the first restart attempt", func() bool { return leases.tries.Load() > tries })
	if got := w.expectStatus("g", core.StatusStopped); got.NextRestartAt == nil || got.RestartCount != 0 {
		t.Fatalf("after an attempt under a held lease: %+v, want still pending", got)
	}
	if err := w.leases.Release(w.ctx, "g", "other"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(ar.BusyRetry)
	waitFor(t, "the retried restart", func() bool {
		rec, _ := w.record("g")
		return rec.Status == core.StatusRunning && rec.Generation == first.Generation+1
	})
}

// TestAutoRestartStoreFailures: a store failure while reading the record or
// while counting a failed attempt changes nothing — the restart stays
// pending with its count — and a later attempt proceeds.
func TestAutoRestartStoreFailures(t *testing.T) {
	t.Run("reading the record", func(t *testing.T) {
		w, _ := restartWorld(t)
		w.startWith("g", `{"mode":"on_failure"}`)
		rec := w.crash("g", 1)
		w.clock.Set(*rec.NextRestartAt)
		w.store.FailNext(memory.MethodGet, errDown)
		res := must(t)(w.svc.NewAutoRestarter().RestartDue(w.ctx, "g"))
		w.expectFail(res, core.CodeServiceUnavailable)
		if now := w.expectStatus("g", core.StatusStopped); now.NextRestartAt == nil || now.RestartCount != 0 {
			t.Fatalf("after a failed read: %+v, want the restart still pending", now)
		}
		w.expectOK(w.restartWhenDue(rec), "")
		w.expectStatus("g", core.StatusRunning)
	})
	t.Run("counting a failed attempt", func(t *testing.T) {
		w, _ := restartWorld(t)
		const img = "engine:comes-back"
		w.drv.AddImage(img, fakedriver.Behavior{})
		w.startImage("g", img, nil, `{"mode":"on_failure","max_restarts":1}`)
		rec := w.crash("g", 1)
		w.drv.RemoveImage(img)
		w.clock.Set(*rec.NextRestartAt)
		swaps := w.store.Calls(memory.MethodSwap)
		w.store.FailNext(memory.MethodSwap, errDown)
		res := must(t)(w.svc.NewAutoRestarter().RestartDue(w.ctx, "g"))
		w.expectFail(res, core.CodeImageUnavailable) // the operation reports the start's failure
		if w.store.Calls(memory.MethodSwap) != swaps+1 {
			t.Fatalf("%d record swaps, want exactly the failed one", w.store.Calls(memory.MethodSwap)-swaps)
		}
		now := w.expectStatus("g", core.StatusStopped)
		if now.NextRestartAt == nil || !now.NextRestartAt.Equal(*rec.NextRestartAt) || now.RestartCount != 0 {
			t.Fatalf("after a failed count: %+v, want the pending restart untouched", now)
		}
		if n := len(w.health.EventsOf("g")); w.lastEvent("g").Type == core.EventCrashLoop {
			t.Fatalf("a crash loop was published (%d events) though the attempt was not counted", n)
		}
		w.drv.AddImage(img, fakedriver.Behavior{})
		w.expectOK(w.restartWhenDue(now), "")
		w.expectStatus("g", core.StatusRunning)
	})
}
