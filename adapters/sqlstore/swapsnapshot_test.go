package sqlstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

func (c *countingStore) SwapAppendSnapshot(ctx context.Context, e ports.Expect, r core.Record, o core.OperationEntry,
	s core.HealthSnapshot) error {
	c.swapAppends.Add(1)
	c.swapSnaps.Add(1)
	return c.Store.SwapAppendSnapshot(ctx, e, r, o, s)
}

func (c *countingStore) UpsertSnapshot(ctx context.Context, s core.HealthSnapshot) error {
	c.upserts.Add(1)
	return c.Store.UpsertSnapshot(ctx, s)
}

// invalidSnapStore is a countingStore whose SwapAppendSnapshot refuses the
// snapshot (ErrInvalid, nothing written), as for details that do not
// encode.
type invalidSnapStore struct{ *countingStore }

func (invalidSnapStore) SwapAppendSnapshot(context.Context, ports.Expect, core.Record, core.OperationEntry, core.HealthSnapshot) error {
	return ports.ErrInvalid
}

// TestLifecycleSwapSnapshot: a start over the real store writes its
// running record, its audit entry and its container_started snapshot in
// one SwapAppendSnapshot (no separate upsert), then publishes the event;
// a store that cannot keep the snapshot gets the swap alone and the
// snapshot upserted after it, and the start still succeeds.
func TestLifecycleSwapSnapshot(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			counting := &countingStore{Store: open(t)}
			for i, tc := range []struct {
				name               string
				store              ports.Store
				swapSnaps, upserts int64
			}{
				{"one statement", counting, 1, 0},
				{"snapshot refused", invalidSnapStore{counting}, 0, 1},
			} {
				counting.swapAppends.Store(0)
				counting.swapSnaps.Store(0)
				counting.upserts.Store(0)
				drv := fakedriver.New(nil)
				drv.AddImage("engine:1", fakedriver.Behavior{})
				health := memory.NewHealthRecorder()
				svc, err := lifecycle.New(lifecycle.Deps{Records: tc.store, Operations: tc.store, Snapshots: tc.store,
					Leases: memory.NewLeases(time.Now), Driver: drv, Health: health, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				game := fmt.Sprintf("swapsnap-%d", i)
				res, err := svc.Start.Handle(ctx, lifecycle.StartInput{GameID: game, ImageRef: "engine:1",
					Meta: lifecycle.Meta{Source: core.SourceREST, SourceRef: "req"}})
				if err != nil || res.Outcome != core.OutcomeSuccess || res.ErrorCode != "" {
					t.Fatalf("%s: start: %+v, %v", tc.name, res, err)
				}
				if got := counting.swapSnaps.Load(); got != tc.swapSnaps {
					t.Errorf("%s: %d SwapAppendSnapshot calls, want %d", tc.name, got, tc.swapSnaps)
				}
				if got := counting.upserts.Load(); got != tc.upserts {
					t.Errorf("%s: %d UpsertSnapshot calls, want %d", tc.name, got, tc.upserts)
				}
				snap, err := counting.GetSnapshot(ctx, game)
				if err != nil || snap.LastEventType != core.EventContainerStarted || snap.ContainerID != res.Record.ContainerID {
					t.Errorf("%s: snapshot after start: %+v, %v; want container_started of %s", tc.name, snap, err, res.Record.ContainerID)
				}
				if evs := health.EventsOf(game); len(evs) != 1 || evs[0].Type != core.EventContainerStarted ||
					!evs[0].OccurredAt.Truncate(time.Microsecond).Equal(snap.LastEventAt) {
					t.Errorf("%s: events after start: %+v, want one container_started at the snapshot's time %v", tc.name, evs, snap.LastEventAt)
				}
				ops, err := counting.ListOperations(ctx, game, 0)
				if err != nil || len(ops) != 1 || ops[0].OpKind != core.OpStart || ops[0].Outcome != core.OutcomeSuccess {
					t.Errorf("%s: audit: %+v, %v; want one successful start", tc.name, ops, err)
				}
			}
		})
	}
}
