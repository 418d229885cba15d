package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// HealthStream implements ports.HealthPublisher: it appends each event to
// the health events stream (fields game_id, container_id, event_type,
// occurred_at as RFC 3339 UTC, and details as JSON object text, "{}" when
// empty; trimmed with MAXLEN ~, see the package doc).
type HealthStream struct {
	c *Client
}

var _ ports.HealthPublisher = (*HealthStream)(nil)

// HealthStream returns a publisher on c's health stream.
func (c *Client) HealthStream() *HealthStream { return &HealthStream{c: c} }

// Publish implements ports.HealthPublisher. A zero OccurredAt is set to
// now. Errors: ErrInvalid when Details cannot be encoded as JSON,
// ErrUnavailable.
func (h *HealthStream) Publish(ctx context.Context, ev core.HealthEvent) error {
	args, err := h.xaddArgs(ev)
	if err != nil {
		return err
	}
	rc := h.c.rc
	err = rc.Do(ctx, rc.B().Arbitrary("XADD").Keys(h.c.streams.HealthEvents).Args(args...).Build()).Error()
	if err != nil {
		return fmt.Errorf("redis: publish %s for %s: %w", ev.Type, ev.GameID, unavailable(err))
	}
	return nil
}

// xaddArgs returns the XADD arguments after the stream name for ev: the
// trimming, the id and the fields. A zero OccurredAt is set to now.
// Errors: ErrInvalid when Details cannot be encoded as JSON.
func (h *HealthStream) xaddArgs(ev core.HealthEvent) ([]string, error) {
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = h.c.now()
	}
	details := []byte("{}")
	if len(ev.Details) > 0 {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			return nil, fmt.Errorf("redis: publish %s for %s: details: %w: %w", ev.Type, ev.GameID, ports.ErrInvalid, err)
		}
		details = b
	}
	args := []string{"*"}
	if h.c.maxLen > 0 {
		args = []string{"MAXLEN", "~", strconv.FormatInt(h.c.maxLen, 10), "*"}
	}
	return append(args,
		"game_id", ev.GameID,
		"container_id", ev.ContainerID,
		"event_type", string(ev.Type),
		"occurred_at", formatTime(ev.OccurredAt),
		"details", string(details)), nil
}
