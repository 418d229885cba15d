package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// snapshotRow is a row of health_snapshots; Details is a JSON object.
type snapshotRow struct {
	bun.BaseModel `bun:"table:health_snapshots,alias:h"`

	GameID              string    `bun:"game_id,pk"`
	ContainerID         string    `bun:"container_id"`
	LastEventType       string    `bun:"last_event_type"`
	LastEventAt         time.Time `bun:"last_event_at"`
	Details             string    `bun:"details"`
	ConsecutiveFailures int       `bun:"consecutive_failures"`
}

// UpsertSnapshot stores snap as the game's snapshot unless the stored one
// is of a later event. Errors: ErrInvalid when Details cannot be encoded as JSON,
// ErrUnavailable.
func (s *Store) UpsertSnapshot(ctx context.Context, snap core.HealthSnapshot) (err error) {
	defer wrap(&err, "upsert snapshot of %q", snap.GameID)
	row, err := toSnapshotRow(snap)
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.hot != nil {
		_, err = s.bestEffort.DB.ExecContext(ctx, s.hot.upsertSnap, args(&row, s.hot.snapFields)...)
		return err
	}
	return upsertSnapshotRow(ctx, s.bestEffort, &row)
}

// toSnapshotRow returns snap as a row. Errors: ErrInvalid when Details
// cannot be encoded as JSON.
func toSnapshotRow(snap core.HealthSnapshot) (snapshotRow, error) {
	details, err := encodeJSON(snap.Details)
	if err != nil {
		return snapshotRow{}, fmt.Errorf("details: %w", err)
	}
	return snapshotRow{
		GameID: snap.GameID, ContainerID: snap.ContainerID,
		LastEventType: string(snap.LastEventType), LastEventAt: dbTime(snap.LastEventAt),
		Details: details, ConsecutiveFailures: snap.ConsecutiveFailures,
	}, nil
}

// upsertSnapshotRow is UpsertSnapshot's statement as bun renders it, on db
// (the store or a transaction).
func upsertSnapshotRow(ctx context.Context, db bun.IDB, row *snapshotRow) error {
	_, err := db.NewInsert().Model(row).
		On("CONFLICT (game_id) DO UPDATE").
		Set("container_id = EXCLUDED.container_id").
		Set("last_event_type = EXCLUDED.last_event_type").
		Set("last_event_at = EXCLUDED.last_event_at").
		Set("details = EXCLUDED.details").
		Set("consecutive_failures = EXCLUDED.consecutive_failures").
		Where("h.last_event_at <= EXCLUDED.last_event_at").
		Exec(ctx)
	return err
}

// GetSnapshot returns the game's snapshot. JSON numbers in Details come
// back as float64. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) GetSnapshot(ctx context.Context, gameID string) (_ core.HealthSnapshot, err error) {
	defer wrap(&err, "get snapshot of %q", gameID)
	var row snapshotRow
	if err := s.getRow(ctx, &row, gameID); err != nil {
		return core.HealthSnapshot{}, err
	}
	var details map[string]any
	if err := decodeJSON(row.Details, &details); err != nil {
		return core.HealthSnapshot{}, fmt.Errorf("decode details: %w", err)
	}
	return core.HealthSnapshot{
		GameID: row.GameID, ContainerID: row.ContainerID,
		LastEventType: core.HealthEventType(row.LastEventType), LastEventAt: dbTime(row.LastEventAt),
		Details: details, ConsecutiveFailures: row.ConsecutiveFailures,
	}, nil
}

// encodeJSON returns m as a JSON object, "{}" when it is empty. Errors:
// ErrInvalid when a value cannot be encoded.
func encodeJSON[V any](m map[string]V) (string, error) {
	if len(m) == 0 {
		return emptyObject, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	}
	return string(b), nil
}

// decodeJSON decodes the JSON object s into *m, leaving *m nil when the
// object is empty.
func decodeJSON[V any](s string, m *map[string]V) error {
	if s == emptyObject {
		*m = nil
		return nil
	}
	if err := json.Unmarshal([]byte(s), m); err != nil {
		return err
	}
	if len(*m) == 0 {
		*m = nil
	}
	return nil
}
