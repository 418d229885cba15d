package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// HealthStream implements ports.HealthPublisher: it appends each event to
// the health events stream (fields game_id, container_id, event_type,
// occurred_at as RFC 3339 UTC, and details as JSON object text, "{}" when
// empty; trimmed with MAXLEN ~, see the package doc) and then upserts the
// game's snapshot in the SnapshotStore it was built with, if any.
type HealthStream struct {
	c         *Client
	snapshots ports.SnapshotStore
}

var _ ports.HealthPublisher = (*HealthStream)(nil)

// HealthStream returns a publisher on c's health stream that also upserts
// snapshots into snapshots; nil snapshots publishes to the stream only.
func (c *Client) HealthStream(snapshots ports.SnapshotStore) *HealthStream {
	return &HealthStream{c: c, snapshots: snapshots}
}

// Publish implements ports.HealthPublisher. The snapshot is upserted even
// when the stream append failed, and the errors of both are joined. A zero
// OccurredAt is set to now. Errors: ErrInvalid when Details cannot be
// encoded as JSON, ErrUnavailable, and whatever the SnapshotStore returns.
func (h *HealthStream) Publish(ctx context.Context, ev core.HealthEvent) error {
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = h.c.now()
	}
	details := []byte("{}")
	if len(ev.Details) > 0 {
		b, err := json.Marshal(ev.Details)
		if err != nil {
			return fmt.Errorf("redis: publish %s for %s: details: %w: %w", ev.Type, ev.GameID, ports.ErrInvalid, err)
		}
		details = b
	}
	args := []string{"*"}
	if h.c.maxLen > 0 {
		args = []string{"MAXLEN", "~", strconv.FormatInt(h.c.maxLen, 10), "*"}
	}
	args = append(args,
		"game_id", ev.GameID,
		"container_id", ev.ContainerID,
		"event_type", string(ev.Type),
		"occurred_at", formatTime(ev.OccurredAt),
		"details", string(details))
	rc := h.c.rc
	err := rc.Do(ctx, rc.B().Arbitrary("XADD").Keys(h.c.streams.HealthEvents).Args(args...).Build()).Error()
	if err != nil {
		err = fmt.Errorf("redis: publish %s for %s: %w", ev.Type, ev.GameID, unavailable(err))
	}
	if h.snapshots != nil {
		if serr := h.snapshots.UpsertSnapshot(ctx, ev.Snapshot()); serr != nil {
			err = errors.Join(err, fmt.Errorf("redis: publish %s for %s: snapshot: %w", ev.Type, ev.GameID, serr))
		}
	}
	return err
}
