package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// MethodPublish is the HealthRecorder method name accepted by FailNext,
// FailNth, FailAlways and Calls.
const MethodPublish = "Publish"

// HealthRecorder is an in-memory ports.HealthPublisher: it records every
// published event, as the Redis publisher appends it to the stream. Its
// embedded fault Set fails Publish on demand and counts its calls.
type HealthRecorder struct {
	*faults.Set

	mu     sync.Mutex
	events []core.HealthEvent
}

var _ ports.HealthPublisher = (*HealthRecorder)(nil)

// NewHealthRecorder returns an empty recorder.
func NewHealthRecorder() *HealthRecorder {
	return &HealthRecorder{Set: faults.New("memory health recorder", MethodPublish)}
}

// Publish implements ports.HealthPublisher as the Redis publisher does: a
// zero OccurredAt is set to now, nil Details are recorded empty, and
// Details that do not encode as JSON are refused with ErrInvalid.
func (h *HealthRecorder) Publish(ctx context.Context, ev core.HealthEvent) error {
	if err := faults.Enter(h.Set, MethodPublish); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory health recorder: publish %s for %q: %w", ev.Type, ev.GameID, err)
	}
	if _, err := json.Marshal(ev.Details); err != nil {
		return fmt.Errorf("memory health recorder: publish %s for %q: details: %w: %w", ev.Type, ev.GameID, ports.ErrInvalid, err)
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = time.Now().UTC()
	}
	ev.Details = copyDetails(ev.Details)
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
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
