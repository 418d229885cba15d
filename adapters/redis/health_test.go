package redis

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/healthtest"
)

// readHealth decodes c's health stream back into events, as a consumer
// would.
func readHealth(tb testing.TB, c *Client) []core.HealthEvent {
	tb.Helper()
	var out []core.HealthEvent
	for _, f := range xrange(tb, c, c.Streams().HealthEvents) {
		at, err := time.Parse(time.RFC3339Nano, f["occurred_at"])
		if err != nil {
			tb.Fatalf("occurred_at %q: %v", f["occurred_at"], err)
		}
		details := map[string]any{}
		if err := json.Unmarshal([]byte(f["details"]), &details); err != nil {
			tb.Fatalf("details %q: %v", f["details"], err)
		}
		out = append(out, core.HealthEvent{GameID: f["game_id"], ContainerID: f["container_id"],
			Type: core.HealthEventType(f["event_type"]), OccurredAt: at, Details: details})
	}
	return out
}

func TestHealthStreamContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			healthtest.Run(t, healthtest.Harness{
				New: func(t *testing.T) (ports.HealthPublisher, func() []core.HealthEvent) {
					c := MustConnect(t, url, scratchOptions(t, url))
					return c.HealthStream(), func() []core.HealthEvent { return readHealth(t, c) }
				},
			})
		})
	}
}

// TestHealthStreamWireFormat pins the field encoding of SPEC §4.
func TestHealthStreamWireFormat(t *testing.T) {
	e := MustStartEmbedded(t)
	c := MustConnect(t, e.URL(), scratchOptions(t, e.URL()))
	ctx := testCtx(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 500_000_000, time.FixedZone("x", 7200))
	for _, ev := range []core.HealthEvent{
		{GameID: "g1", ContainerID: "c1", Type: core.EventContainerStarted, OccurredAt: at},
		{GameID: "g1", ContainerID: "c1", Type: core.EventHealthCheckFailed, OccurredAt: at,
			Details: map[string]any{"consecutive_failures": 3, "last_error": "connection refused"}},
	} {
		if err := c.HealthStream().Publish(ctx, ev); err != nil {
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
	e.Close()
	if err := c.HealthStream().Publish(ctx, core.HealthEvent{GameID: "g1", Type: core.EventContainerOOM}); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Publish on a stopped server: %v, want ErrUnavailable", err)
	}
}

func TestStreamsTrimmed(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			opts := scratchOptions(t, url)
			opts.MaxLen = 10
			c := MustConnect(t, url, opts)
			h := c.HealthStream()
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
