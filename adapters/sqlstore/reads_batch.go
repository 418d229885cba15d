package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/uptrace/bun"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.BatchReader = (*Store)(nil)

// batchReadSQL holds the PostgreSQL batch reads, rendered once from the
// models: the game ids go in as one array parameter, so each statement
// (and its cached plan) is the same for every batch size.
var batchReadSQL batchReadStmts

type batchReadStmts struct {
	once     sync.Once
	getMany  string
	listMany string
}

func (s *Store) batchReads() *batchReadStmts {
	batchReadSQL.once.Do(func() {
		rec := s.db.Table(reflect.TypeFor[recordRow]())
		op := s.db.Table(reflect.TypeFor[operationRow]())
		batchReadSQL.getMany = fmt.Sprintf("SELECT %s FROM %s WHERE game_id = ANY(CAST($1 AS text[]))",
			columns(rec.Fields), rec.Name)
		batchReadSQL.listMany = fmt.Sprintf("SELECT o.* FROM unnest(CAST($1 AS text[])) AS g(game_id) "+
			"CROSS JOIN LATERAL (SELECT %s FROM %s WHERE game_id = g.game_id ORDER BY id DESC LIMIT $2) AS o",
			columns(op.Fields), op.Name)
	})
	return &batchReadSQL
}

// GetMany implements ports.BatchReader: one SELECT for every game. Errors:
// ErrUnavailable.
func (s *Store) GetMany(ctx context.Context, gameIDs []string) (_ map[string]core.Record, err error) {
	defer wrap(&err, "get %d records", len(gameIDs))
	out := make(map[string]core.Record, len(gameIDs))
	if len(gameIDs) == 0 {
		return out, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []recordRow
	if s.hot != nil {
		err = s.scanHot(ctx, &rows, s.batchReads().getMany, gameIDs)
	} else {
		err = s.db.NewSelect().Model(&rows).Where("game_id IN (?)", bun.In(gameIDs)).Scan(ctx)
	}
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		rec, err := row.record()
		if err != nil {
			return nil, err
		}
		out[rec.GameID] = rec
	}
	return out, nil
}

// ListOperationsMany implements ports.BatchReader: one SELECT for every
// game (a lateral join on PostgreSQL with cached plans, a window function
// otherwise), each game's part read through the (game_id, id) index.
// Errors: ErrUnavailable.
func (s *Store) ListOperationsMany(ctx context.Context, gameIDs []string, limit int) (_ map[string][]core.OperationEntry, err error) {
	defer wrap(&err, "list operations of %d games", len(gameIDs))
	out := make(map[string][]core.OperationEntry, len(gameIDs))
	if len(gameIDs) == 0 {
		return out, nil
	}
	if limit <= 0 {
		limit = defaultOperations
	}
	// A game listed twice would be joined twice.
	gameIDs = slices.Compact(slices.Sorted(slices.Values(gameIDs)))
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []operationRow
	if s.hot != nil {
		err = s.scanHot(ctx, &rows, s.batchReads().listMany, gameIDs, limit)
	} else {
		ranked := s.db.NewSelect().Model((*operationRow)(nil)).
			ColumnExpr("o.*").ColumnExpr("row_number() OVER (PARTITION BY game_id ORDER BY id DESC) AS rn").
			Where("game_id IN (?)", bun.In(gameIDs))
		err = s.db.NewSelect().Model(&rows).ModelTableExpr("(?) AS o", ranked).
			Where("rn <= ?", limit).OrderExpr("game_id, id DESC").Scan(ctx)
	}
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		out[row.GameID] = append(out[row.GameID], row.entry())
	}
	for g, es := range out {
		// The lateral join keeps each game's rows newest first; sort
		// anyway, the SQL does not promise the order of joined rows.
		sortNewestFirst(es)
		out[g] = es
	}
	return out, nil
}

// scanHot runs query as a cached plan with args and scans every row into
// dest, a pointer to a slice of a table model.
func (s *Store) scanHot(ctx context.Context, dest any, query string, args ...any) error {
	rows, err := s.db.DB.QueryContext(ctx, query, append([]any{cachedPlan}, args...)...)
	if err != nil {
		return err
	}
	return s.db.ScanRows(ctx, rows, dest)
}

// sortNewestFirst orders es by id, highest first.
func sortNewestFirst(es []core.OperationEntry) {
	slices.SortFunc(es, func(a, b core.OperationEntry) int { return cmp.Compare(b.ID, a.ID) })
}
