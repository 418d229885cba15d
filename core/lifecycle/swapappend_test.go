package lifecycle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// atomicStore is the memory store with ports.SwapAppender, as the SQL
// stores have: the operation's last swap and its audit entry are written
// by one call, and only when the swap succeeds.
type atomicStore struct {
	*racingStore
	mu    sync.Mutex
	calls int
}

func (s *atomicStore) SwapAppend(ctx context.Context, expect ports.Expect, next core.Record, e core.OperationEntry) error {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if err := s.racingStore.Swap(ctx, expect, next); err != nil {
		return err
	}
	_, err := s.Store.AppendOperation(ctx, e)
	return err
}

func (s *atomicStore) swapAppends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

var _ ports.SwapAppender = (*atomicStore)(nil)

// atomicWorld is a world whose record store is an atomicStore.
func atomicWorld(t *testing.T) (*world, *atomicStore) {
	t.Helper()
	var a *atomicStore
	w := newWorld(t, func(d *lifecycle.Deps) {
		a = &atomicStore{racingStore: d.Records.(*racingStore)}
		d.Records = a
	})
	return w, a
}

// auditLine is what an audit entry says, without ids and times.
func auditLine(e core.OperationEntry) string {
	return fmt.Sprintf("%s %s/%s image=%s container=%v", e.OpKind, e.Outcome, e.ErrorCode, e.ImageRef, e.ContainerID != "")
}

// TestSwapAppendAuditMatchesPlainStore: a store that writes the last swap
// together with the audit entry leaves exactly the records and audit
// entries a plain store does, one entry per operation, for every operation
// kind including replays.
func TestSwapAppendAuditMatchesPlainStore(t *testing.T) {
	script := func(w *world) []lifecycle.Result {
		return []lifecycle.Result{
			w.start("g", imgA), w.start("g", imgA), w.stop("g"), w.stop("g"), w.start("g", imgA),
			w.restart("g"), w.patch("g", imgB), w.stop("g"), w.cleanup("g"), w.cleanup("g"),
		}
	}
	plain := newWorld(t)
	atomic, store := atomicWorld(t)
	want, got := script(plain), script(atomic)
	for i := range want {
		if got[i].Outcome != want[i].Outcome || got[i].ErrorCode != want[i].ErrorCode || got[i].Record.Status != want[i].Record.Status {
			t.Errorf("step %d: SwapAppend store %s/%s (%s), plain store %s/%s (%s)", i,
				got[i].Outcome, got[i].ErrorCode, got[i].Record.Status, want[i].Outcome, want[i].ErrorCode, want[i].Record.Status)
		}
	}
	wantOps, gotOps := plain.ops("g"), atomic.ops("g")
	if len(gotOps) != len(wantOps) {
		t.Fatalf("SwapAppend store wrote %d audit entries, plain store %d", len(gotOps), len(wantOps))
	}
	for i := range wantOps {
		if g, w := auditLine(gotOps[i]), auditLine(wantOps[i]); g != w {
			t.Errorf("audit entry %d = %s, want %s", i, g, w)
		}
	}
	if store.swapAppends() == 0 {
		t.Fatal("the operations never used SwapAppend")
	}
	atomic.expectStatus("g", core.StatusRemoved)
}

// TestSwapAppendLostSwap: when the combined write loses its
// compare-and-swap, nothing of it is written, and the operation's outcome
// gets exactly one audit entry (written after the fact).
func TestSwapAppendLostSwap(t *testing.T) {
	t.Run("stop loses to another stop: replay", func(t *testing.T) {
		w, store := atomicWorld(t)
		w.seed("g", core.StatusRunning)
		before := len(w.ops("g"))
		w.raceNextSwapTo("g", w.stoppedBy)
		w.expectOK(w.stop("g"), core.CodeReplayNoOp)
		w.expectStatus("g", core.StatusStopped)
		ops := w.ops("g")[before:]
		if len(ops) != 1 || ops[0].OpKind != core.OpStop || ops[0].ErrorCode != core.CodeReplayNoOp {
			t.Errorf("audit after the lost swap = %v, want one stop replay entry", ops)
		}
		if store.swapAppends() == 0 {
			t.Error("the stop did not use SwapAppend")
		}
	})
	t.Run("stop loses to a new container: conflict", func(t *testing.T) {
		w, _ := atomicWorld(t)
		w.seed("g", core.StatusRunning)
		before := len(w.ops("g"))
		w.raceNextSwapTo("g", w.newContainer)
		w.expectFail(w.stop("g"), core.CodeConflict)
		if got := w.expectStatus("g", core.StatusRunning); got.ContainerID != "other-container" {
			t.Errorf("record = %+v, want the other operation's container kept", got)
		}
		ops := w.ops("g")[before:]
		if len(ops) != 1 || ops[0].Outcome != core.OutcomeFailure || ops[0].ErrorCode != core.CodeConflict {
			t.Errorf("audit after the lost swap = %v, want one stop conflict entry", ops)
		}
	})
	t.Run("store down at the combined write", func(t *testing.T) {
		w, _ := atomicWorld(t)
		w.seed("g", core.StatusRunning)
		before := len(w.ops("g"))
		w.store.FailNext(memory.MethodSwap, errDown)
		w.expectFail(w.stop("g"), core.CodeServiceUnavailable)
		ops := w.ops("g")[before:]
		if len(ops) != 1 || ops[0].ErrorCode != core.CodeServiceUnavailable {
			t.Errorf("audit = %v, want one service_unavailable entry", ops)
		}
	})
	t.Run("start adopted meanwhile is a success", func(t *testing.T) {
		w, _ := atomicWorld(t)
		w.store.raceNextSwap(func() {
			resv := w.expectStatus("g", core.StatusStarting)
			cs := w.live("g")
			if len(cs) != 1 {
				t.Fatalf("%d live containers before the swap, want 1", len(cs))
			}
			if err := w.store.Store.Swap(w.ctx, ports.ExpectOf(resv), resv.Running(cs[0].ID, cs[0].Endpoint, w.clock.Now())); err != nil {
				t.Fatalf("adopt: %v", err)
			}
		})
		w.expectOK(w.start("g", imgA), "")
		rec := w.expectStatus("g", core.StatusRunning)
		if live := w.live("g"); len(live) != 1 || live[0].ID != rec.ContainerID {
			t.Fatalf("live containers %+v, want the adopted %s", live, rec.ContainerID)
		}
		if ops := w.ops("g"); len(ops) != 1 || ops[0].OpKind != core.OpStart || ops[0].Outcome != core.OutcomeSuccess {
			t.Errorf("audit = %v, want one successful start", ops)
		}
	})
	t.Run("start whose reservation was removed meanwhile", func(t *testing.T) {
		w, _ := atomicWorld(t)
		w.store.raceNextSwap(func() {
			resv := w.expectStatus("g", core.StatusStarting)
			if err := w.store.Store.Swap(w.ctx, ports.ExpectOf(resv), resv.Removed(w.clock.Now())); err != nil {
				t.Fatalf("remove: %v", err)
			}
		})
		res := w.start("g", imgA)
		if res.Outcome != core.OutcomeFailure {
			t.Fatalf("start = %s/%s, want a failure", res.Outcome, res.ErrorCode)
		}
		w.expectStatus("g", core.StatusRemoved)
		if n := len(w.all("g")); n != 0 {
			t.Errorf("%d containers left after the abandoned start, want 0", n)
		}
		if ops := w.ops("g"); len(ops) != 1 || ops[0].Outcome != core.OutcomeFailure {
			t.Errorf("audit = %v, want one failed start", ops)
		}
		if evs := w.events("g"); len(evs) != 0 {
			t.Errorf("events %v, want no container_started for an abandoned start", evs)
		}
	})
}
