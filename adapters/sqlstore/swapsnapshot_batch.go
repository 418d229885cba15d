package sqlstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.BatchSwapSnapshotter = (*Store)(nil)

// SwapAppendSnapshotMany implements ports.BatchSwapSnapshotter. On
// PostgreSQL the items' SwapAppendSnapshot statements go in one pgx batch:
// one round trip, run in one implicit transaction, so one commit for all;
// an item whose swap matched no row wrote nothing (its CTEs select from
// the swap) and gets ErrConflict or ErrNotFound. A statement that fails
// aborts the transaction: nothing is written and the error is the batch's.
// Without the PostgreSQL hot path each item is its own call.
func (s *Store) SwapAppendSnapshotMany(ctx context.Context, items []ports.SwapSnapshot) (_ []error, err error) {
	out := make([]error, len(items))
	if s.hot == nil {
		for i, it := range items {
			out[i] = s.SwapAppendSnapshot(ctx, it.Expect, it.Next, it.Entry, it.Snapshot)
		}
		return out, nil
	}
	defer wrap(&err, "swap %d records, append their operations and upsert their snapshots", len(items))
	var batch pgx.Batch
	sent := make([]int, 0, len(items))
	for i, it := range items {
		a, err := s.swapSnapArgs(it)
		if err != nil {
			out[i] = fmt.Errorf("sqlstore: swap record %q: %w: %w", it.Next.GameID, ports.ErrInvalid, err)
			continue
		}
		batch.Queue(s.hot.swapSnap, a[1:]...) // a[0] is cachedPlan: a batch takes no mode argument
		sent = append(sent, i)
	}
	if len(sent) == 0 {
		return out, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	affected := make([]int64, len(sent))
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: driver connection is %T, not pgx", dc)
		}
		br := c.Conn().SendBatch(ctx, &batch)
		for k := range sent {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return err
			}
			affected[k] = tag.RowsAffected()
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	for k, i := range sent {
		if affected[k] != 1 {
			g := items[i].Next.GameID
			out[i] = fmt.Errorf("sqlstore: swap record %q: %w", g, classified(swapFailed(ctx, s.db, g)))
		}
	}
	return out, nil
}

// swapSnapArgs returns the arguments of hot.swapSnap for it, as
// SwapAppendSnapshot passes them.
func (s *Store) swapSnapArgs(it ports.SwapSnapshot) ([]any, error) {
	srow, err := toSnapshotRow(it.Snapshot)
	if err != nil {
		return nil, err
	}
	row, err := toRecordRow(it.Next)
	if err != nil {
		return nil, err
	}
	op := toOperationRow(it.Entry)
	a := args(&row, s.hot.swapFields, row.GameID, string(it.Expect.Status), it.Expect.ContainerID, it.Expect.Generation)
	a = append(a, args(&op, s.hot.opFields)[1:]...)
	return append(a, args(&srow, s.hot.snapFields)[1:]...), nil
}
