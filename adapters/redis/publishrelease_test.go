package redis

import (
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestPublishRelease: the event is appended and then the lease released,
// in one script; a lease another token holds stays; a failed append still
// releases the lease; a lease store of another client is not handled.
func TestPublishRelease(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			c := MustConnect(t, url, scratchOptions(t, url))
			ctx := testCtx(t)
			h, l := c.HealthStream(), c.Leases()
			at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			ev := core.HealthEvent{GameID: "g1", ContainerID: "c1", Type: core.EventContainerStarted, OccurredAt: at,
				Details: map[string]any{"n": float64(1)}}
			held := func(game string) bool {
				n, err := c.rc.Do(ctx, c.rc.B().Exists().Key(l.Key(game)).Build()).AsInt64()
				if err != nil {
					t.Fatal(err)
				}
				return n == 1
			}
			mustAcquire := func(game, token string) {
				if ok, err := l.TryAcquire(ctx, game, token, time.Minute); err != nil || !ok {
					t.Fatalf("TryAcquire(%s): %v, %v", game, ok, err)
				}
			}

			mustAcquire("g1", "tok")
			handled, perr, rerr := h.PublishRelease(ctx, ev, l, "g1", "tok")
			if !handled || perr != nil || rerr != nil {
				t.Fatalf("PublishRelease = %v, %v, %v; want handled without errors", handled, perr, rerr)
			}
			if held("g1") {
				t.Error("the lease is still held after PublishRelease")
			}
			if got := readHealth(t, c); len(got) != 1 || got[0].GameID != "g1" || got[0].Type != ev.Type ||
				!got[0].OccurredAt.Equal(at) || got[0].Details["n"] != float64(1) {
				t.Errorf("health stream = %+v, want the one event %+v", got, ev)
			}

			// Another token's lease stays; the event is still appended.
			mustAcquire("g2", "other")
			ev2 := ev
			ev2.GameID = "g2"
			if handled, perr, rerr := h.PublishRelease(ctx, ev2, l, "g2", "tok"); !handled || perr != nil || rerr != nil {
				t.Fatalf("PublishRelease of a lease held by another = %v, %v, %v", handled, perr, rerr)
			}
			if !held("g2") {
				t.Error("PublishRelease dropped a lease another token holds")
			}
			if n := len(readHealth(t, c)); n != 2 {
				t.Errorf("health stream holds %d events, want 2", n)
			}

			// Details that do not encode: ErrInvalid, and the lease is
			// released all the same.
			mustAcquire("g3", "tok")
			bad := ev
			bad.GameID, bad.Details = "g3", map[string]any{"ch": make(chan int)}
			handled, perr, rerr = h.PublishRelease(ctx, bad, l, "g3", "tok")
			if !handled || !errors.Is(perr, ports.ErrInvalid) || rerr != nil {
				t.Errorf("PublishRelease with bad details = %v, %v, %v; want handled, ErrInvalid, nil", handled, perr, rerr)
			}
			if held("g3") {
				t.Error("a failed encode kept the lease")
			}

			// An append the server refuses (the stream key holds a
			// string): the error comes back and the lease is released.
			c.rc.Do(ctx, c.rc.B().Set().Key(c.Streams().HealthEvents).Value("not a stream").Build())
			mustAcquire("g4", "tok")
			ev4 := ev
			ev4.GameID = "g4"
			handled, perr, rerr = h.PublishRelease(ctx, ev4, l, "g4", "tok")
			if !handled || !errors.Is(perr, ports.ErrUnavailable) || rerr != nil {
				t.Errorf("PublishRelease onto a non-stream = %v, %v, %v; want handled, ErrUnavailable, nil", handled, perr, rerr)
			}
			if held("g4") {
				t.Error("a failed append kept the lease")
			}

			// Leases of another store: not handled, nothing done.
			mustAcquire("g5", "tok")
			if handled, _, _ := h.PublishRelease(ctx, ev, memory.NewLeases(time.Now), "g5", "tok"); handled {
				t.Error("PublishRelease handled a lease store of another kind")
			}
			if !held("g5") {
				t.Error("an unhandled PublishRelease released the lease")
			}
		})
	}
}
