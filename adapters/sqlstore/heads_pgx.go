package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// headColumns are the columns of a head, in the order both ListHeads paths
// select them.
var headColumns = []string{"game_id", "status", "current_container_id", "generation", "next_restart_at"}

// headsSQL returns the cached-plan SELECTs of a page of heads: game_id > $1
// LIMIT $2, and the same with status = $3.
func headsSQL(table string) (all, byStatus string) {
	cols := headColumns[0]
	for _, c := range headColumns[1:] {
		cols += ", " + c
	}
	sel := fmt.Sprintf("SELECT %s FROM %s WHERE game_id > $1", cols, table)
	return sel + " ORDER BY game_id ASC LIMIT $2", sel + " AND status = $3 ORDER BY game_id ASC LIMIT $2"
}

// listHeadsRaw is ListHeads on PostgreSQL: a cached plan run on the pgx
// connection under database/sql, its text columns read as raw bytes into a
// headPage. A reconcile pass reads every record's head
// (docs/architecture.md).
func (s *Store) listHeadsRaw(ctx context.Context, q ports.ListQuery, limit int) ([]core.RecordHead, error) {
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	query, args := s.hot.heads, []any{cachedPlan, q.After, limit + 1}
	if q.Status != "" {
		query, args = s.hot.headsByStatus, append(args, string(q.Status))
	}
	var items []core.RecordHead
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: driver connection is %T, not pgx", dc)
		}
		rows, err := c.Conn().Query(ctx, query, args...)
		if err != nil {
			return err
		}
		items, err = scanHeads(rows, q, limit)
		return err
	})
	return items, err
}

// scanHeads reads the rows of a heads query (headColumns) and closes them.
func scanHeads(rows pgx.Rows, q ports.ListQuery, limit int) ([]core.RecordHead, error) {
	defer rows.Close()
	page := newHeadPage(q, limit)
	// The scan targets live outside the loop: a new argument slice per
	// Scan is an allocation per row.
	var (
		generation int64
		restart    *time.Time
		dest       = []any{nil, nil, nil, &generation, &restart}
	)
	for rows.Next() {
		raw := rows.RawValues()
		restart = nil
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		page.add(raw[0], raw[1], raw[2], generation, restart)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return page.heads(), nil
}
