// Package healthtest is the contract suite of ports.HealthPublisher. Every
// publisher (the Redis stream on redis-server and on the embedded server,
// and the in-memory recorder) runs it from its own tests with a Harness
// that reads back what was published.
package healthtest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Harness binds the suite to one implementation.
type Harness struct {
	// New returns the publisher a subtest runs against, with empty history,
	// and a function returning every event it published so far, oldest
	// first, as a consumer of the stream would read them back. It is called
	// once per subtest; it should register any cleanup with t.Cleanup.
	New func(t *testing.T) (ports.HealthPublisher, func() []core.HealthEvent)
}

// Run runs every contract case against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatalf("healthtest: Harness needs New")
	}
	cases := []struct {
		name string
		run  func(t *testing.T, p ports.HealthPublisher, read func() []core.HealthEvent)
	}{
		{"PublishKeepsOrderAndFields", testOrderAndFields},
		{"ZeroOccurredAtIsNow", testZeroOccurredAt},
		{"NilDetailsAreEmpty", testNilDetails},
		{"UnencodableDetailsInvalid", testUnencodable},
		{"CancelledContext", testCancelled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, read := h.New(t)
			c.run(t, p, read)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// normal is ev as it reads back from a stream: time in UTC, details as a
// JSON round trip (numbers become float64).
func normal(t *testing.T, ev core.HealthEvent) core.HealthEvent {
	t.Helper()
	ev.OccurredAt = ev.OccurredAt.UTC()
	b, err := json.Marshal(ev.Details)
	if err != nil {
		t.Fatalf("details %v: %v", ev.Details, err)
	}
	d := map[string]any{}
	if err := json.Unmarshal(b, &d); err != nil && string(b) != "null" {
		t.Fatalf("details %s: %v", b, err)
	}
	ev.Details = d
	return ev
}

func normalAll(t *testing.T, evs []core.HealthEvent) []core.HealthEvent {
	out := make([]core.HealthEvent, len(evs))
	for i, ev := range evs {
		out[i] = normal(t, ev)
	}
	return out
}

func testOrderAndFields(t *testing.T, p ports.HealthPublisher, read func() []core.HealthEvent) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 500_000_000, time.FixedZone("x", 7200))
	evs := []core.HealthEvent{
		{GameID: "g1", ContainerID: "c1", Type: core.EventContainerStarted, OccurredAt: at, Details: map[string]any{}},
		{GameID: "g1", ContainerID: "c1", Type: core.EventHealthCheckFailed, OccurredAt: at.Add(time.Second),
			Details: map[string]any{"consecutive_failures": 3, "last_error": "connection refused"}},
		{GameID: "g2", ContainerID: "c2", Type: core.EventOrphanRemoved, OccurredAt: at.Add(2 * time.Second),
			Details: map[string]any{"generation": "4", "nested": map[string]any{"a": []any{1, "b"}}}},
	}
	for _, ev := range evs {
		if err := p.Publish(ctx(t), ev); err != nil {
			t.Fatalf("Publish(%s): %v", ev.Type, err)
		}
	}
	if d := cmp.Diff(normalAll(t, evs), normalAll(t, read())); d != "" {
		t.Fatalf("published events (-want +got):\n%s", d)
	}
}

func testZeroOccurredAt(t *testing.T, p ports.HealthPublisher, read func() []core.HealthEvent) {
	before := time.Now().Add(-time.Second)
	if err := p.Publish(ctx(t), core.HealthEvent{GameID: "g1", Type: core.EventContainerOOM}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := read()
	if len(got) != 1 {
		t.Fatalf("%d events, want 1", len(got))
	}
	if at := got[0].OccurredAt; at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("OccurredAt = %v, want about now", at)
	}
}

func testNilDetails(t *testing.T, p ports.HealthPublisher, read func() []core.HealthEvent) {
	if err := p.Publish(ctx(t), core.HealthEvent{GameID: "g1", Type: core.EventContainerExited,
		OccurredAt: time.Now()}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := read()
	if len(got) != 1 || got[0].Details == nil || len(got[0].Details) != 0 {
		t.Fatalf("events = %+v, want one with empty, non-nil details", got)
	}
}

func testUnencodable(t *testing.T, p ports.HealthPublisher, read func() []core.HealthEvent) {
	bad := core.HealthEvent{GameID: "g1", Type: core.EventContainerExited, OccurredAt: time.Now(),
		Details: map[string]any{"f": func() {}}}
	if err := p.Publish(ctx(t), bad); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("Publish with unencodable details = %v, want ErrInvalid", err)
	}
	if got := read(); len(got) != 0 {
		t.Fatalf("a refused event was published: %+v", got)
	}
}

func testCancelled(t *testing.T, p ports.HealthPublisher, _ func() []core.HealthEvent) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Publish(c, core.HealthEvent{GameID: "g1", Type: core.EventContainerOOM, OccurredAt: time.Now()}); err == nil {
		t.Fatal("Publish on a cancelled context succeeded")
	}
}
