package sqlstore_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// countingStore counts the SwapAppend (with or without a snapshot),
// AppendOperation and UpsertSnapshot calls lifecycle makes on a real store.
type countingStore struct {
	*sqlstore.Store
	swapAppends, appends, swapSnaps, upserts atomic.Int64
}

func (c *countingStore) SwapAppend(ctx context.Context, e ports.Expect, r core.Record, o core.OperationEntry) error {
	c.swapAppends.Add(1)
	return c.Store.SwapAppend(ctx, e, r, o)
}

func (c *countingStore) AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error) {
	c.appends.Add(1)
	return c.Store.AppendOperation(ctx, e)
}

// racingDriver is the fake driver whose Stop lets another writer move the
// record first when race is set, as an operation of another instance that
// ignored the lease would.
type racingDriver struct {
	*fakedriver.Driver
	race func(ctx context.Context) error
}

func (d racingDriver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if d.race != nil {
		if err := d.race(ctx); err != nil {
			return err
		}
	}
	return d.Driver.Stop(ctx, id, timeout)
}

// TestLifecycleSwapAppend runs start, stop and cleanup over the real
// store: each writes its last record change and its audit entry in one
// SwapAppend (no separate append), a start still publishes
// container_started and its snapshot after it, and a stop whose compare-and-swap loses writes no success entry,
// only the one entry of its real outcome.
func TestLifecycleSwapAppend(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			store := &countingStore{Store: open(t)}
			drv := racingDriver{Driver: fakedriver.New(nil)}
			drv.AddImage("engine:1", fakedriver.Behavior{})
			health := memory.NewHealthRecorder()
			newServices := func(d ports.RuntimeDriver) *lifecycle.Services {
				svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Snapshots: store,
					Leases: memory.NewLeases(time.Now), Driver: d, Health: health,
					Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				return svc
			}
			svc := newServices(drv)
			meta := lifecycle.Meta{Source: core.SourceREST, SourceRef: "req"}
			mustOutcome := func(what string, res lifecycle.Result, err error, want core.Code) {
				t.Helper()
				if err != nil || res.ErrorCode != want {
					t.Fatalf("%s: %+v, %v; want code %q", what, res, err, want)
				}
			}
			res, err := svc.Start.Handle(ctx, lifecycle.StartInput{GameID: "g1", ImageRef: "engine:1", Meta: meta})
			mustOutcome("start", res, err, "")
			if evs := health.EventsOf("g1"); len(evs) != 1 || evs[0].Type != core.EventContainerStarted {
				t.Errorf("events after start: %+v, want container_started", evs)
			}
			if snap, err := store.GetSnapshot(ctx, "g1"); err != nil || snap.LastEventType != core.EventContainerStarted {
				t.Errorf("snapshot after start: %+v, %v", snap, err)
			}
			res, err = svc.Stop.Handle(ctx, lifecycle.StopInput{GameID: "g1", Reason: core.ReasonGameFinished, Meta: meta})
			mustOutcome("stop", res, err, "")
			res, err = svc.Cleanup.Handle(ctx, lifecycle.CleanupInput{GameID: "g1", Meta: meta})
			mustOutcome("cleanup", res, err, "")
			if sa, a := store.swapAppends.Load(), store.appends.Load(); sa != 3 || a != 0 {
				t.Errorf("start + stop + cleanup made %d SwapAppend and %d AppendOperation calls, want 3 and 0", sa, a)
			}
			if rec, err := store.Get(ctx, "g1"); err != nil || rec.Status != core.StatusRemoved {
				t.Errorf("record after cleanup: %+v, %v; want removed", rec, err)
			}
			ops, err := store.ListOperations(ctx, "g1", 0)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []core.OpKind
			for _, e := range ops {
				if e.Outcome != core.OutcomeSuccess || e.ContainerID == "" || e.CorrelationID == "" {
					t.Errorf("entry %+v: want a success naming its container and correlation id", e)
				}
				kinds = append(kinds, e.OpKind)
			}
			if want := []core.OpKind{core.OpCleanup, core.OpStop, core.OpStart}; len(kinds) != 3 ||
				kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
				t.Errorf("audit entries newest first: %v, want %v", kinds, want)
			}

			// A lost compare-and-swap: the record changes (to another
			// container) while the stop runs.
			res, err = svc.Start.Handle(ctx, lifecycle.StartInput{GameID: "g2", ImageRef: "engine:1", Meta: meta})
			mustOutcome("start g2", res, err, "")
			drv.race = func(ctx context.Context) error {
				cur, err := store.Get(ctx, "g2")
				if err != nil {
					return err
				}
				moved := cur.Running("elsewhere", cur.Endpoint, time.Now())
				moved.Generation++
				return store.Swap(ctx, ports.ExpectOf(cur), moved)
			}
			res, err = newServices(drv).Stop.Handle(ctx, lifecycle.StopInput{GameID: "g2", Reason: core.ReasonGameFinished, Meta: meta})
			mustOutcome("stop losing its swap", res, err, core.CodeConflict)
			if rec, err := store.Get(ctx, "g2"); err != nil || rec.Status != core.StatusRunning || rec.ContainerID != "elsewhere" {
				t.Errorf("record after the losing stop: %+v, %v; want the other writer's", rec, err)
			}
			ops, err = store.ListOperations(ctx, "g2", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != 2 || ops[0].OpKind != core.OpStop || ops[0].ErrorCode != core.CodeConflict {
				t.Errorf("audit of g2 newest first: %+v; want one stop conflict after the start", ops)
			}
		})
	}
}
