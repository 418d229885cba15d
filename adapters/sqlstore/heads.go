package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// headRow is the head of a row of runtime_records: the columns a reconcile
// pass compares, none of them JSON.
type headRow struct {
	bun.BaseModel `bun:"table:runtime_records,alias:r"`

	GameID        string     `bun:"game_id,pk"`
	Status        string     `bun:"status"`
	ContainerID   string     `bun:"current_container_id"`
	Generation    int64      `bun:"generation"`
	NextRestartAt *time.Time `bun:"next_restart_at"`
}

// ListHeads is List reading only the head columns of each row: the same
// WHERE, order, page sizes and cursor. Errors: ErrUnavailable.
func (s *Store) ListHeads(ctx context.Context, q ports.ListQuery) (_ []core.RecordHead, next string, err error) {
	defer wrap(&err, "list record heads")
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []headRow
	sel, limit := s.pageSelect(&rows, q)
	if err := sel.Scan(ctx); err != nil {
		return nil, "", err
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].GameID
	}
	items := make([]core.RecordHead, len(rows))
	for i, row := range rows {
		items[i] = core.RecordHead{GameID: row.GameID, Status: core.Status(row.Status),
			ContainerID: row.ContainerID, Generation: row.Generation, NextRestartAt: dbTimePtr(row.NextRestartAt)}
	}
	return items, next, nil
}

// pageSelect returns the SELECT of the page q picks into model (a pointer
// to a slice of a table model of runtime_records): one row more than the
// page, so the caller sees whether another page follows, and the page size.
func (s *Store) pageSelect(model any, q ports.ListQuery) (*bun.SelectQuery, int) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	sel := s.db.NewSelect().Model(model).Where("game_id > ?", q.After).
		OrderExpr("game_id ASC").Limit(int64(limit) + 1)
	if q.Status != "" {
		sel = sel.Where("status = ?", string(q.Status))
	}
	return sel, limit
}
