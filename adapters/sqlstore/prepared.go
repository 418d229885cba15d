package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// cachedPlan is the first argument of every hot statement: pgx prepares the
// statement once per connection and then only binds and executes it, so
// PostgreSQL parses and plans it once instead of on every call (bun's
// interpolated queries are new text each time and go through the simple
// protocol). See docs/BENCHMARKS.md, P2.
var cachedPlan any = pgx.QueryExecModeCacheStatement

// hotSQL holds the statements of the lifecycle hot path on PostgreSQL —
// record read and compare-and-swap, operation-log append and read, snapshot
// upsert — rendered once from the bun table models with $n placeholders.
// Columns come from the models, so a column added to a model is read and
// written here as well without touching this file.
type hotSQL struct {
	// getRecord reads getFields of the record whose game_id = $1.
	getRecord string
	getFields []*schema.Field
	// createRecord inserts createFields.
	createRecord string
	createFields []*schema.Field
	// swap sets swapFields ($1…$n) where game_id, status,
	// current_container_id and generation equal $n+1…$n+4.
	swap       string
	swapFields []*schema.Field
	// appendOp inserts opFields and returns the id.
	appendOp string
	opFields []*schema.Field
	// swapAppend is swap followed by the insert of opFields ($n+5…) when
	// the swap changed the row, in one statement.
	swapAppend string
	// listOps reads a game's newest entries: game_id = $1, LIMIT $2.
	listOps string
	// upsertSnap inserts snapFields, updating a stored snapshot unless it
	// is of a later event.
	upsertSnap string
	snapFields []*schema.Field
	// swapSnap is swapAppend plus the upsert of snapFields, returning a
	// row per swapped row (see swapSnapSQL).
	swapSnap string
	// heads reads a page of record heads: game_id > $1, LIMIT $2;
	// headsByStatus adds status = $3 (see headsSQL).
	heads, headsByStatus string
}

// newHotSQL renders the hot statements for db's models.
func newHotSQL(db *bun.DB) *hotSQL {
	rec := db.Table(reflect.TypeFor[recordRow]())
	op := db.Table(reflect.TypeFor[operationRow]())
	snap := db.Table(reflect.TypeFor[snapshotRow]())
	h := &hotSQL{}
	h.getFields = rec.Fields
	h.getRecord = fmt.Sprintf("SELECT %s FROM %s WHERE game_id = $1", columns(rec.Fields), rec.Name)

	h.createFields = rec.Fields
	h.createRecord = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", rec.Name, columns(rec.Fields), placeholders(len(rec.Fields)))

	h.swapFields = without(rec.Fields, "game_id", "created_at")
	set := make([]string, len(h.swapFields))
	for i, f := range h.swapFields {
		set[i] = fmt.Sprintf("%s = $%d", f.SQLName, i+1)
	}
	n := len(h.swapFields)
	h.swap = fmt.Sprintf("UPDATE %s SET %s WHERE game_id = $%d AND status = $%d AND current_container_id = $%d AND generation = $%d",
		rec.Name, strings.Join(set, ", "), n+1, n+2, n+3, n+4)

	h.opFields = without(op.Fields, "id")
	h.appendOp = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING id", op.Name, columns(h.opFields),
		placeholders(len(h.opFields)))
	h.swapAppend = fmt.Sprintf("WITH swapped AS (%s RETURNING 1) INSERT INTO %s (%s) SELECT %s FROM swapped",
		h.swap, op.Name, columns(h.opFields), castParams(h.opFields, n+5))
	h.listOps = fmt.Sprintf("SELECT %s FROM %s WHERE game_id = $1 ORDER BY id DESC LIMIT $2", columns(op.Fields), op.Name)

	h.snapFields = snap.Fields
	h.upsertSnap = fmt.Sprintf("INSERT INTO %s AS h (%s) VALUES (%s) ON CONFLICT (game_id) DO UPDATE SET %s "+
		"WHERE h.last_event_at <= EXCLUDED.last_event_at", snap.Name, columns(snap.Fields),
		placeholders(len(snap.Fields)), excludedSet(without(snap.Fields, "game_id")))
	h.swapSnap = swapSnapSQL(h, op, snap)
	h.heads, h.headsByStatus = headsSQL(rec.Name)
	return h
}

func columns(fs []*schema.Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f.SQLName)
	}
	return strings.Join(names, ", ")
}

func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(ps, ", ")
}

func without(fs []*schema.Field, names ...string) []*schema.Field {
	out := make([]*schema.Field, 0, len(fs))
	for _, f := range fs {
		skip := false
		for _, n := range names {
			skip = skip || f.Name == n
		}
		if !skip {
			out = append(out, f)
		}
	}
	return out
}

// args returns cachedPlan followed by the values of fields in row (a
// pointer to a model) and then extra.
func args(row any, fields []*schema.Field, extra ...any) []any {
	v := reflect.ValueOf(row).Elem()
	out := make([]any, 0, 1+len(fields)+len(extra))
	out = append(out, cachedPlan)
	for _, f := range fields {
		out = append(out, f.Value(v).Interface())
	}
	return append(out, extra...)
}

// getRecordHot is getRow for a record on the hot path: the cached plan run
// on the pgx connection itself (see getRecordRaw). Errors: ErrNotFound
// when there is none, and the database's.
func (s *Store) getRecordHot(ctx context.Context, row *recordRow, gameID string) error {
	return s.getRecordRaw(ctx, row, gameID)
}

// execSwap runs query, a cached plan whose parameters are the swap's
// ($1…, see hotSQL.swap) followed by extra, and that changes or returns one
// row when the swap is made; it reports the outcome as Swap does.
func (s *Store) execSwap(ctx context.Context, query string, expect ports.Expect, row *recordRow, extra ...any) error {
	a := args(row, s.hot.swapFields, row.GameID, string(expect.Status), expect.ContainerID, expect.Generation)
	// Exec, not Query: the row count is all it needs, and database/sql
	// starts a goroutine per Query with a cancellable context.
	res, err := s.db.DB.ExecContext(ctx, query, append(a, extra...)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return swapFailed(ctx, s.db, row.GameID)
}

// SwapAppend implements ports.SwapAppender. On PostgreSQL it is one
// statement (the swap as a data-modifying CTE, the insert selecting from
// it), committed synchronously as record writes are; otherwise Swap and the
// append run in one transaction.
func (s *Store) SwapAppend(ctx context.Context, expect ports.Expect, next core.Record, e core.OperationEntry) (err error) {
	defer wrap(&err, "swap record %q and append its operation", next.GameID)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row, err := toRecordRow(next)
	if err != nil {
		return err
	}
	op := toOperationRow(e)
	if s.hot == nil {
		return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := swapRow(ctx, tx, expect, &row); err != nil {
				return err
			}
			_, err := tx.NewInsert().Model(&op).ExcludeColumn("id").Exec(ctx)
			return err
		})
	}
	return s.execSwap(ctx, s.hot.swapAppend, expect, &row, args(&op, s.hot.opFields)[1:]...)
}
