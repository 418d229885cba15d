package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// MethodPublish is the HealthRecorder method name accepted by FailNext,
// FailNth, FailAlways and Calls.
const MethodPublish = "Publish"

// HealthRecorder is an in-memory ports.HealthPublisher: it records every
// published event and, when it has a snapshot store, upserts the event's
// snapshot there, as the Redis publisher does with the SQL store. Its
// embedded fault Set fails Publish on demand and counts its calls.
type HealthRecorder struct {
	*faults.Set
	snapshots ports.SnapshotStore

	mu     sync.Mutex
	events []core.HealthEvent
}

var _ ports.HealthPublisher = (*HealthRecorder)(nil)

// NewHealthRecorder returns a recorder that upserts snapshots into
// snapshots; nil only records events.
func NewHealthRecorder(snapshots ports.SnapshotStore) *HealthRecorder {
	return &HealthRecorder{Set: faults.New("memory health recorder", MethodPublish), snapshots: snapshots}
}

// Publish implements ports.HealthPublisher. The event is recorded first,
// like an entry appended to the stream; a failing snapshot upsert is then
// returned wrapped.
func (h *HealthRecorder) Publish(ctx context.Context, ev core.HealthEvent) error {
	if err := faults.Enter(h.Set, MethodPublish); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory health recorder: publish %s for %q: %w", ev.Type, ev.GameID, err)
	}
	ev.Details = copyDetails(ev.Details)
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
	if h.snapshots == nil {
		return nil
	}
	if err := h.snapshots.UpsertSnapshot(ctx, ev.Snapshot()); err != nil {
		return fmt.Errorf("memory health recorder: upsert snapshot of %q: %w", ev.GameID, err)
	}
	return nil
}

// Events returns a copy of every recorded event in publish order.
func (h *HealthRecorder) Events() []core.HealthEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]core.HealthEvent, len(h.events))
	for i, ev := range h.events {
		ev.Details = copyDetails(ev.Details)
		out[i] = ev
	}
	return out
}

// EventsOf returns a copy of the recorded events of gameID in publish order.
func (h *HealthRecorder) EventsOf(gameID string) []core.HealthEvent {
	var out []core.HealthEvent
	for _, ev := range h.Events() {
		if ev.GameID == gameID {
			out = append(out, ev)
		}
	}
	return out
}

// Reset forgets the recorded events.
func (h *HealthRecorder) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = nil
}
