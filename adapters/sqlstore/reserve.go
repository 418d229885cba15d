package sqlstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// reserveLockKey is the PostgreSQL advisory lock that serialises capacity
// checked reservations of every instance (the bytes "rtmres").
const reserveLockKey int64 = 0x72746d726573

// Reserve creates (expect nil) or swaps the record next.GameID to next,
// only while fewer than limit records of other games are running or
// starting. On PostgreSQL the count and the write run in one transaction
// under a transaction-scoped advisory lock, so reservations of all
// instances are serialised and none sees a stale count; SQLite has one
// connection, so its transaction is serialised already. Errors:
// ErrCapacity, and those of Create and Swap.
func (s *Store) Reserve(ctx context.Context, expect *ports.Expect, next core.Record, limit int) (err error) {
	if limit <= 0 {
		if expect == nil {
			return s.Create(ctx, next)
		}
		return s.Swap(ctx, *expect, next)
	}
	defer wrap(&err, "reserve record %q", next.GameID)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row, err := toRecordRow(next)
	if err != nil {
		return err
	}
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.db.Dialect().Name() == dialect.PG {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", reserveLockKey); err != nil {
				return err
			}
		}
		n, err := tx.NewSelect().Model((*recordRow)(nil)).
			Where("status IN (?)", bun.In([]string{string(core.StatusRunning), string(core.StatusStarting)})).
			Where("game_id <> ?", next.GameID).
			Count(ctx)
		if err != nil {
			return err
		}
		if n >= int64(limit) {
			return fmt.Errorf("%d of %d runtimes running or starting: %w", n, limit, ports.ErrCapacity)
		}
		if expect == nil {
			_, err := tx.NewInsert().Model(&row).Exec(ctx)
			return err
		}
		return swapRow(ctx, tx, *expect, &row)
	})
}
