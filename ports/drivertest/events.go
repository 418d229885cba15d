package drivertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// recorder keeps every event a driver's stream delivers, so a case can wait
// for one that matches without racing the stream.
type recorder struct {
	mu      sync.Mutex
	events  []ports.Event
	closed  bool
	changed chan struct{} // closed and replaced whenever events or closed change
	cancel  context.CancelFunc
}

// record subscribes to d's events until the case ends (or stop is called).
func record(t *testing.T, d ports.RuntimeDriver) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := d.Events(ctx)
	if err != nil {
		cancel()
		t.Fatalf("Events: %v", err)
	}
	r := &recorder{changed: make(chan struct{}), cancel: cancel}
	go func() {
		for ev := range ch {
			r.mu.Lock()
			r.events = append(r.events, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}()
	t.Cleanup(cancel)
	return r
}

// stop cancels the subscription.
func (r *recorder) stop() { r.cancel() }

// wait returns the first recorded event matching typ and id, or fails t
// after timeout.
func (r *recorder) wait(t *testing.T, typ ports.EventType, id string, timeout time.Duration) ports.Event {
	t.Helper()
	ev, err := r.waitFor(typ, id, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (r *recorder) waitFor(typ ports.EventType, id string, timeout time.Duration) (ports.Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			if ev.Type == typ && ev.ContainerID == id {
				r.mu.Unlock()
				return ev, nil
			}
		}
		closed, changed := r.closed, r.changed
		seen := r.summary(id)
		r.mu.Unlock()
		if closed {
			return ports.Event{}, fmt.Errorf("event stream closed before a %q event for %s; saw %s", typ, id, seen)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return ports.Event{}, fmt.Errorf("no %q event for %s within %s; saw %s", typ, id, timeout, seen)
		}
	}
}

// waitClosed fails t unless the stream closes within timeout.
func (r *recorder) waitClosed(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		closed, changed := r.closed, r.changed
		r.mu.Unlock()
		if closed {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("event channel still open %s after its context ended", timeout)
		}
	}
}

// isClosed reports whether the stream has closed.
func (r *recorder) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// summary lists the event types seen for id; r.mu must be held.
func (r *recorder) summary(id string) string {
	var s []ports.EventType
	for _, ev := range r.events {
		if ev.ContainerID == id {
			s = append(s, ev.Type)
		}
	}
	return fmt.Sprintf("%v for it, %d in all", s, len(r.events))
}
