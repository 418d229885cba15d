package redis

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// countingHealth is the health stream counting how lifecycle publishes.
type countingHealth struct {
	*HealthStream
	publishes, handled atomic.Int64
}

func (h *countingHealth) Publish(ctx context.Context, ev core.HealthEvent) error {
	h.publishes.Add(1)
	return h.HealthStream.Publish(ctx, ev)
}

func (h *countingHealth) PublishRelease(ctx context.Context, ev core.HealthEvent, l ports.LeaseStore, game, token string) (bool, error, error) {
	ok, perr, rerr := h.HealthStream.PublishRelease(ctx, ev, l, game, token)
	if ok {
		h.handled.Add(1)
	}
	return ok, perr, rerr
}

// newServices returns lifecycle services on a memory store with leases,
// health and drv, and the store.
func newServices(t *testing.T, leases ports.LeaseStore, health ports.HealthPublisher, drv ports.RuntimeDriver,
	cfg lifecycle.Config) (*lifecycle.Services, *memory.Store) {
	t.Helper()
	store := memory.NewStore()
	svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Snapshots: store,
		Leases: leases, Driver: drv, Health: health, Logger: slog.New(slog.DiscardHandler), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// wrappedLeases hides the adapter's lease store from PublishRelease.
type wrappedLeases struct{ ports.LeaseStore }

// TestLifecycleStartPublishesWithRelease: a start over the real Redis
// sends its container_started with the lease release (one script, no
// publish of its own); the event is on the stream and the lease gone when
// the start returns. With a lease store the stream cannot release, the
// event is published on its own as before.
func TestLifecycleStartPublishesWithRelease(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			c := MustConnect(t, url, scratchOptions(t, url))
			ctx := testCtx(t)
			for i, tc := range []struct {
				name               string
				leases             ports.LeaseStore
				publishes, handled int64
			}{
				{"own leases", c.Leases(), 0, 1},
				{"other leases", wrappedLeases{c.Leases()}, 1, 0},
			} {
				health := &countingHealth{HealthStream: c.HealthStream()}
				drv := fakedriver.New(nil)
				drv.AddImage("engine:1", fakedriver.Behavior{})
				svc, store := newServices(t, tc.leases, health, drv, lifecycle.Config{})
				game := []string{"pr-a", "pr-b"}[i]
				meta := lifecycle.Meta{Source: core.SourceREST, SourceRef: "req"}
				res, err := svc.Start.Handle(ctx, lifecycle.StartInput{GameID: game, ImageRef: "engine:1", Meta: meta})
				if err != nil || res.Outcome != core.OutcomeSuccess || res.ErrorCode != "" {
					t.Fatalf("%s: start: %+v, %v", tc.name, res, err)
				}
				if p, h := health.publishes.Load(), health.handled.Load(); p != tc.publishes || h != tc.handled {
					t.Errorf("%s: %d publishes and %d publish+release scripts, want %d and %d", tc.name, p, h, tc.publishes, tc.handled)
				}
				var found bool
				for _, ev := range readHealth(t, c) {
					found = found || (ev.GameID == game && ev.Type == core.EventContainerStarted && ev.ContainerID == res.Record.ContainerID)
				}
				if !found {
					t.Errorf("%s: no container_started of %s on the stream when the start returned", tc.name, res.Record.ContainerID)
				}
				if n, err := c.rc.Do(ctx, c.rc.B().Exists().Key(c.Leases().Key(game)).Build()).AsInt64(); err != nil || n != 0 {
					t.Errorf("%s: lease key exists = %d, %v after the start; want released", tc.name, n, err)
				}
				if snap, err := store.GetSnapshot(ctx, game); err != nil || snap.LastEventType != core.EventContainerStarted {
					t.Errorf("%s: snapshot %+v, %v; want container_started", tc.name, snap, err)
				}
				// A stop publishes nothing and releases as before.
				res, err = svc.Stop.Handle(ctx, lifecycle.StopInput{GameID: game, Reason: core.ReasonGameFinished, Meta: meta})
				if err != nil || res.Outcome != core.OutcomeSuccess {
					t.Fatalf("%s: stop: %+v, %v", tc.name, res, err)
				}
				if ok, err := tc.leases.TryAcquire(ctx, game, "next", time.Minute); err != nil || !ok {
					t.Errorf("%s: lease after the stop: %v, %v; want free", tc.name, ok, err)
				}
			}
		})
	}
}
