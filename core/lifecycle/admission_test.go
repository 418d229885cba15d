package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestLaunchKeepsAdoptedContainerWhenRequestCancelled: the reconciler
// adopts the container of a start right before the start records it, and
// the request is cancelled at that moment. The start's re-check must not
// run on the cancelled context: it finds the record running its container
// and keeps the live engine.
func TestLaunchKeepsAdoptedContainerWhenRequestCancelled(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.store.raceNextSwap(func() {
		resv := w.expectStatus("g", core.StatusStarting)
		cs := w.live("g")
		if len(cs) != 1 {
			t.Fatalf("%d live containers before the swap, want 1", len(cs))
		}
		adopted := resv.Running(cs[0].ID, cs[0].Endpoint, w.clock.Now())
		if err := w.store.Store.Swap(context.Background(), ports.ExpectOf(resv), adopted); err != nil {
			t.Fatalf("adopt: %v", err)
		}
		cancel()
	})
	res := must(t)(w.svc.Start.Handle(ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA, Meta: rest()}))
	w.expectOK(res, "")
	rec := w.expectStatus("g", core.StatusRunning)
	if live := w.live("g"); len(live) != 1 || live[0].ID != rec.ContainerID {
		t.Fatalf("live containers %+v, want the adopted %s", live, rec.ContainerID)
	}
}

// slowLeases makes the first renewal answer late (but succeed) and every
// later one fail, and remembers when the first was sent.
type slowLeases struct {
	*memory.Leases
	delay time.Duration
	mu    sync.Mutex
	calls int
	sent  time.Time
}

func (l *slowLeases) Renew(ctx context.Context, game, token string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	l.calls++
	n := l.calls
	if n == 1 {
		l.sent = time.Now()
	}
	l.mu.Unlock()
	if n > 1 {
		return false, errors.New("lease store down")
	}
	time.Sleep(l.delay)
	return l.Leases.Renew(ctx, game, token, ttl)
}

// TestLeaseTimedFromRenewalSent: the lease lasts TTL from when a renewal
// was sent. After a slow successful renewal and failures after it, the
// operation must be cancelled well before sent+TTL, when another instance
// could take the lease. Timing the lease from the answer instead cancels
// only at sent+TTL.
func TestLeaseTimedFromRenewalSent(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	var leases *slowLeases
	w := newWorld(t, func(d *lifecycle.Deps) {
		leases = &slowLeases{Leases: d.Leases.(*memory.Leases), delay: ttl/3 - 50*time.Millisecond}
		d.Leases = leases
		d.Config.LeaseTTL = ttl
		d.Config.StartTimeout = 10 * time.Second
	})
	res := w.start("g", imgDead) // never ready: runs until its context ends
	done := time.Now()
	w.expectFail(res, core.CodeServiceUnavailable)
	leases.mu.Lock()
	sent := leases.sent
	leases.mu.Unlock()
	if sent.IsZero() {
		t.Fatal("the lease was never renewed")
	}
	if held := done.Sub(sent); held > ttl*5/6 {
		t.Errorf("operation ended %s after the last good renewal was sent; the lease may expire %s after it", held, ttl)
	}
	if n := len(w.live("g")); n != 0 {
		t.Errorf("%d containers left by the cancelled start", n)
	}
}

// TestMaxInflight: with two operations in flight, a third Handle answers
// capacity_exceeded at once, marked busy, and changes nothing.
func TestMaxInflight(t *testing.T) {
	w := newWorld(t, func(d *lifecycle.Deps) {
		d.Config.MaxInflight = 2
		d.Config.StartTimeout = 5 * time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, g := range []string{"slow1", "slow2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = w.svc.Start.Handle(ctx, lifecycle.StartInput{GameID: g, ImageRef: imgDead, Meta: rest()})
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(w.live("slow1"))+len(w.live("slow2")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the two slow starts never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.expectRefused("g")
	// Run, used inside restart and patch, takes no slot of its own.
	if r := must(t)(w.svc.Start.Run(context.Background(), lifecycle.StartInput{GameID: "inner", ImageRef: imgA, Meta: rest()})); r.ErrorCode != "" {
		t.Errorf("Run under a full instance = %s", r.ErrorCode)
	}
	cancel()
	wg.Wait()
	w.expectOK(w.start("g", imgA), "")
}

// TestMaxRuntimes: running + starting records are capped; a refused start
// leaves nothing behind, a stopped game keeps its container, and a stop
// frees a slot.
func TestMaxRuntimes(t *testing.T) {
	w := newWorld(t, func(d *lifecycle.Deps) { d.Config.MaxRuntimes = 2 })
	w.expectOK(w.start("g1", imgA), "")
	w.expectOK(w.start("g2", imgA), "")
	w.expectOK(w.start("g2", imgA), core.CodeReplayNoOp) // a replay adds nothing
	w.expectRefused("g3")
	w.expectOK(w.stop("g1"), "")
	w.expectOK(w.start("g3", imgA), "")
	kept := w.expectStatus("g1", core.StatusStopped)
	w.expectFail(w.start("g1", imgB), core.CodeCapacityExceeded)
	if rec := w.expectStatus("g1", core.StatusStopped); rec.ContainerID != kept.ContainerID || len(w.all("g1")) != 1 {
		t.Errorf("a refused start of a stopped game touched it: %+v, containers %d", rec, len(w.all("g1")))
	}
	w.expectOK(w.restart("g2"), "") // its own stop frees the slot it needs
	w.expectOK(w.patch("g3", imgB), "")
}

// TestEnvRules: the start service applies core.ValidateEnv with the
// configured deny list, for every caller.
func TestEnvRules(t *testing.T) {
	w := newWorld(t)
	for _, env := range []map[string]string{{"LD_PRELOAD": "/tmp/x.so"}, {"BASH_ENV": "/tmp/x"},
		{"RTMANAGER_API_TOKEN": "x"}, {"lower": "x"}} {
		res := must(t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA, Env: env, Meta: rest()}))
		w.expectFail(res, core.CodeInvalidRequest)
	}
	w.expectStatus("g", "")
	custom := newWorld(t, func(d *lifecycle.Deps) { d.Config.EnvDeny = core.EnvDeny{"SECRET_*"} })
	res := must(t)(custom.svc.Start.Handle(custom.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA,
		Env: map[string]string{"SECRET_KEY": "x"}, Meta: rest()}))
	custom.expectFail(res, core.CodeInvalidRequest)
}

// TestRemovedKeepsNoEnv: cleanup and a failed start both leave the record
// removed without the job env it was started with.
func TestRemovedKeepsNoEnv(t *testing.T) {
	w := newWorld(t)
	env := map[string]string{"API_SECRET": "hunter2"}
	w.expectOK(must(t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA, Env: env, Meta: rest()})), "")
	w.expectOK(w.stop("g"), "")
	if rec := w.expectStatus("g", core.StatusStopped); rec.Env["API_SECRET"] == "" {
		t.Fatalf("a stopped record must keep env for restart: %v", rec.Env)
	}
	w.expectOK(w.cleanup("g"), "")
	if rec := w.expectStatus("g", core.StatusRemoved); rec.Env != nil {
		t.Errorf("cleanup left env %v", rec.Env)
	}
	res := must(t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "f", ImageRef: imgDies, Env: env, Meta: rest()}))
	w.expectFail(res, core.CodeStartFailed)
	if rec := w.expectStatus("f", core.StatusRemoved); rec.Env != nil {
		t.Errorf("a failed start left env %v", rec.Env)
	}
}

// expectRefused starts game and expects capacity_exceeded, marked busy,
// leaving neither record nor container.
func (w *world) expectRefused(game string) {
	w.t.Helper()
	res := w.start(game, imgA)
	w.expectFail(res, core.CodeCapacityExceeded)
	if !res.Busy {
		w.t.Error("capacity_exceeded must be marked busy (retry later)")
	}
	w.expectStatus(game, "")
	if n := len(w.all(game)); n != 0 {
		w.t.Errorf("%d containers for the refused start", n)
	}
}
