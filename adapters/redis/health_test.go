package redis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// snapshots is a stateful in-memory ports.SnapshotStore for these tests.
type snapshots struct {
	mu  sync.Mutex
	m   map[string]core.HealthSnapshot
	err error
}

func (s *snapshots) UpsertSnapshot(_ context.Context, snap core.HealthSnapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.m == nil {
		s.m = map[string]core.HealthSnapshot{}
	}
	s.m[snap.GameID] = snap
	return nil
}

func (s *snapshots) GetSnapshot(_ context.Context, gameID string) (core.HealthSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.m[gameID]
	if !ok {
		return core.HealthSnapshot{}, ports.ErrNotFound
	}
	return snap, nil
}

func TestHealthStream(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			c := MustConnect(t, url, scratchOptions(t, url))
			snaps := &snapshots{}
			h := c.HealthStream(snaps)
			ctx := testCtx(t)
			at := time.Date(2026, 11, 25, 12, 0, 0, 500_000_000, time.FixedZone("x", 7200))
			evs := []core.HealthEvent{
				{GameID: "g1", ContainerID: "c1", Type: core.EventContainerStarted, OccurredAt: at},
				{GameID: "g1", ContainerID: "c1", Type: core.EventHealthCheckFailed, OccurredAt: at,
					Details: map[string]any{"consecutive_failures": 3, "last_error": "connection refused"}},
			}
			for _, ev := range evs {
				if err := h.Publish(ctx, ev); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			want := []map[string]string{
				{"game_id": "g1", "container_id": "c1", "event_type": "container_started",
					"occurred_at": "2026-11-25T10:00:00.5Z", "details": "{}"},
				{"game_id": "g1", "container_id": "c1", "event_type": "health_check_failed",
					"occurred_at": "2026-11-25T10:00:00.5Z",
					"details":     `{"consecutive_failures":3,"last_error":"connection refused"}`},
			}
			if d := cmp.Diff(want, xrange(t, c, c.Streams().HealthEvents)); d != "" {
				t.Fatalf("health stream (-want +got):\n%s", d)
			}
			got, err := snaps.GetSnapshot(ctx, "g1")
			if err != nil {
				t.Fatalf("GetSnapshot: %v", err)
			}
			if d := cmp.Diff(evs[1].Snapshot(), got); d != "" {
				t.Fatalf("snapshot (-want +got):\n%s", d)
			}
		})
	}
}

func TestHealthStreamErrors(t *testing.T) {
	e := MustStartEmbedded(t)
	c := MustConnect(t, e.URL(), scratchOptions(t, e.URL()))
	ctx := testCtx(t)
	bad := core.HealthEvent{GameID: "g1", Type: core.EventContainerExited, Details: map[string]any{"f": func() {}}}
	if err := c.HealthStream(nil).Publish(ctx, bad); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("Publish with unencodable details: %v, want ErrInvalid", err)
	}
	// The stream append succeeds, the snapshot fails: the error says so.
	snaps := &snapshots{err: ports.ErrUnavailable}
	ev := core.HealthEvent{GameID: "g1", Type: core.EventContainerOOM}
	if err := c.HealthStream(snaps).Publish(ctx, ev); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Publish with a failing snapshot store: %v, want ErrUnavailable", err)
	}
	if n := len(xrange(t, c, c.Streams().HealthEvents)); n != 1 {
		t.Fatalf("%d health entries, want 1", n)
	}
	// A stopped server: the snapshot is still upserted.
	snaps.err = nil
	e.Close()
	if err := c.HealthStream(snaps).Publish(ctx, ev); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Publish on a stopped server: %v, want ErrUnavailable", err)
	}
	if _, err := snaps.GetSnapshot(ctx, "g1"); err != nil {
		t.Fatalf("snapshot after a failed append: %v", err)
	}
}

func TestStreamsTrimmed(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			opts := scratchOptions(t, url)
			opts.MaxLen = 10
			c := MustConnect(t, url, opts)
			h := c.HealthStream(nil)
			ctx := testCtx(t)
			for i := 0; i < 500; i++ {
				if err := h.Publish(ctx, core.HealthEvent{GameID: "g", Type: core.EventContainerStarted}); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			// MAXLEN ~ trims whole macro nodes (100 entries by default on
			// redis-server), so the stream keeps somewhat more than 10.
			if n := len(xrange(t, c, c.Streams().HealthEvents)); n >= 500 || n < 10 {
				t.Fatalf("health stream holds %d entries after 500 appends with MaxLen 10", n)
			}
		})
	}
}
