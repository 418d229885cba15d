package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/uptrace/bun/schema"

	"github.com/galaxy-game/rtmanager/core"
)

// appendManySQL is the PostgreSQL batch append: one array parameter per
// column, unnested into rows, so the statement text (and its cached plan)
// is the same for every batch size.
var appendManySQL struct {
	once sync.Once
	sql  string
}

// appendManyStmt renders the batch append from the operation-log model.
func (s *Store) appendManyStmt() string {
	appendManySQL.once.Do(func() {
		op := s.db.Table(reflect.TypeFor[operationRow]())
		fields := s.hot.opFields
		arrays := make([]string, len(fields))
		for i, f := range fields {
			arrays[i] = fmt.Sprintf("CAST($%d AS %s[])", i+1, f.DiscoveredSQLType)
		}
		appendManySQL.sql = fmt.Sprintf("INSERT INTO %s (%s) SELECT * FROM unnest(%s) RETURNING id",
			op.Name, columns(fields), strings.Join(arrays, ", "))
	})
	return appendManySQL.sql
}

// AppendOperations stores es in one statement (one transaction) and returns
// their ids in the order of es. On PostgreSQL with cached plans it is one
// INSERT … SELECT FROM unnest of one array per column; otherwise one
// multi-row INSERT. It runs on the best-effort pool, like AppendOperation.
// Errors: ErrUnavailable.
func (s *Store) AppendOperations(ctx context.Context, es []core.OperationEntry) (_ []int64, err error) {
	if len(es) == 0 {
		return []int64{}, nil
	}
	defer wrap(&err, "append %d operations", len(es))
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows := make([]operationRow, len(es))
	for i, e := range es {
		rows[i] = toOperationRow(e)
	}
	if s.hot == nil {
		if _, err := s.bestEffort.NewInsert().Model(&rows).ExcludeColumn("id").Returning("id").Exec(ctx); err != nil {
			return nil, err
		}
		ids := make([]int64, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		return sortedIDs(ids, len(es))
	}
	cols := columnArrays(rows, s.hot.opFields)
	sqlRows, err := s.bestEffort.DB.QueryContext(ctx, s.appendManyStmt(), append([]any{cachedPlan}, cols...)...)
	if err != nil {
		return nil, err
	}
	defer sqlRows.Close()
	ids := make([]int64, 0, len(es))
	for sqlRows.Next() {
		var id int64
		if err := sqlRows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := sqlRows.Err(); err != nil {
		return nil, err
	}
	return sortedIDs(ids, len(es))
}

// sortedIDs returns the ids of a batch insert in ascending order: the ids
// come from one sequence in insertion order, which is the order of the
// entries, whatever order RETURNING lists them in.
func sortedIDs(ids []int64, want int) ([]int64, error) {
	if len(ids) != want {
		return nil, fmt.Errorf("batch insert returned %d ids for %d entries", len(ids), want)
	}
	slices.Sort(ids)
	return ids, nil
}

// columnArrays turns rows into one slice per field (a column of the
// batch), typed as the field is, for unnest.
func columnArrays(rows []operationRow, fields []*schema.Field) []any {
	out := make([]any, len(fields))
	for j, f := range fields {
		col := reflect.MakeSlice(reflect.SliceOf(f.StructField.Type), len(rows), len(rows))
		for i := range rows {
			col.Index(i).Set(f.Value(reflect.ValueOf(&rows[i]).Elem()))
		}
		out[j] = col.Interface()
	}
	return out
}
