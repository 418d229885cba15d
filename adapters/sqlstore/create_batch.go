package sqlstore

import (
	"context"
	"fmt"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.BatchCreator = (*Store)(nil)

// CreateMany implements ports.BatchCreator: one multi-row INSERT … ON
// CONFLICT (game_id) DO NOTHING RETURNING game_id, so every record whose
// game has none is written in one statement and one commit, and the games
// it does not return already had a record. Errors: per record ErrConflict
// and ErrInvalid; for the batch ErrUnavailable.
func (s *Store) CreateMany(ctx context.Context, recs []core.Record) (_ []error, err error) {
	defer wrap(&err, "create %d records", len(recs))
	out := make([]error, len(recs))
	rows := make([]recordRow, 0, len(recs))
	first := make(map[string]int, len(recs))
	for i, rec := range recs {
		row, err := toRecordRow(rec)
		if err != nil {
			out[i] = fmt.Errorf("sqlstore: create record %q: %w: %w", rec.GameID, ports.ErrInvalid, err)
			continue
		}
		if _, dup := first[rec.GameID]; dup {
			out[i] = fmt.Errorf("sqlstore: create record %q: twice in one batch: %w", rec.GameID, ports.ErrConflict)
			continue
		}
		first[rec.GameID] = i
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return out, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var created []string
	if err := s.db.NewInsert().Model(&rows).On("CONFLICT (game_id) DO NOTHING").
		Returning("game_id").Scan(ctx, &created); err != nil {
		return nil, err
	}
	done := make(map[string]bool, len(created))
	for _, g := range created {
		done[g] = true
	}
	for g, i := range first {
		if !done[g] {
			out[i] = fmt.Errorf("sqlstore: create record %q: it exists: %w", g, ports.ErrConflict)
		}
	}
	return out, nil
}
