package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.SwapSnapshotter = (*Store)(nil)

// swapSnapSQL renders SwapAppendSnapshot's statement: h.swap, then the
// operation-log insert and the snapshot upsert selecting from it, each in
// its own data-modifying CTE, and a row per swapped row as its result, so
// the command tag's row count says whether the swap was made (PostgreSQL
// runs every data-modifying CTE whether or not the main query reads it).
// op and snap are the log and snapshot tables.
func swapSnapSQL(h *hotSQL, op, snap *schema.Table) string {
	n := len(h.swapFields) + 4
	m := n + len(h.opFields)
	return fmt.Sprintf("WITH swapped AS (%s RETURNING 1), "+
		"appended AS (INSERT INTO %s (%s) SELECT %s FROM swapped), "+
		"snap AS (INSERT INTO %s AS h (%s) SELECT %s FROM swapped ON CONFLICT (game_id) DO UPDATE SET %s "+
		"WHERE h.last_event_at <= EXCLUDED.last_event_at) "+
		"SELECT 1 FROM swapped",
		h.swap, op.Name, columns(h.opFields), castParams(h.opFields, n+1),
		snap.Name, columns(h.snapFields), castParams(h.snapFields, m+1), excludedSet(without(h.snapFields, "game_id")))
}

// castParams returns "CAST($from AS type), …" for fields: INSERT … SELECT
// does not type its parameters from the columns.
func castParams(fields []*schema.Field, from int) string {
	vals := make([]string, len(fields))
	for i, f := range fields {
		vals[i] = fmt.Sprintf("CAST($%d AS %s)", from+i, f.DiscoveredSQLType)
	}
	return strings.Join(vals, ", ")
}

// excludedSet returns "col = EXCLUDED.col, …" for fields.
func excludedSet(fields []*schema.Field) string {
	set := make([]string, len(fields))
	for i, f := range fields {
		set[i] = fmt.Sprintf("%s = EXCLUDED.%s", f.SQLName, f.SQLName)
	}
	return strings.Join(set, ", ")
}

// SwapAppendSnapshot implements ports.SwapSnapshotter. On PostgreSQL it is
// one statement, committed synchronously as record writes are; otherwise
// the swap, the append and the upsert run in one transaction.
func (s *Store) SwapAppendSnapshot(ctx context.Context, expect ports.Expect, next core.Record, e core.OperationEntry,
	snap core.HealthSnapshot) (err error) {
	defer wrap(&err, "swap record %q, append its operation and upsert its snapshot", next.GameID)
	srow, err := toSnapshotRow(snap)
	if err != nil {
		return err
	}
	row, err := toRecordRow(next)
	if err != nil {
		return err
	}
	op := toOperationRow(e)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.hot == nil {
		return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := swapRow(ctx, tx, expect, &row); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&op).ExcludeColumn("id").Exec(ctx); err != nil {
				return err
			}
			return upsertSnapshotRow(ctx, tx, &srow)
		})
	}
	extra := append(args(&op, s.hot.opFields)[1:], args(&srow, s.hot.snapFields)[1:]...)
	return s.execSwap(ctx, s.hot.swapSnap, expect, &row, extra...)
}
