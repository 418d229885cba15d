package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// connection under database/sql, its text columns read as raw bytes. The
// game and container ids of a page are copied into one string that its
// heads share (one allocation per page instead of two per row; a head with a
// pending restart gets its own game id), the status is interned. A
// reconcile pass reads every record's head (docs/architecture.md).
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
		items, err = scanHeads(rows, limit)
		return err
	})
	return items, err
}

// scanHeads reads the rows of a heads query (headColumns) and closes them.
func scanHeads(rows pgx.Rows, limit int) ([]core.RecordHead, error) {
	defer rows.Close()
	// A page starts at List's size and doubles up to limit+1 (append's
	// growth of a long slice is 1.25×: it copied and dropped a page of
	// 10,000 heads several times over).
	items := make([]core.RecordHead, 0, min(limit+1, maxPage))
	// ends[2i] and ends[2i+1] are where row i's game id and container id
	// end in buf. The scan targets live outside the loop: a pointer into
	// each row's head would move every head to the heap, and a new
	// argument slice per Scan is an allocation per row.
	var (
		buf        = make([]byte, 0, 80*cap(items))
		ends       = make([]int, 0, 2*cap(items))
		generation int64
		restart    *time.Time
		dest       = []any{nil, nil, nil, &generation, &restart}
	)
	for rows.Next() {
		if len(items) == cap(items) {
			more := max(1, min(cap(items), limit+1-len(items)))
			items, ends = slices.Grow(items, more), slices.Grow(ends, 2*more)
			buf = slices.Grow(buf, (len(buf)/len(items)+1)*more)
		}
		raw := rows.RawValues()
		buf = append(buf, raw[0]...)
		ends = append(ends, len(buf))
		buf = append(buf, raw[2]...)
		ends = append(ends, len(buf))
		restart = nil
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		items = append(items, core.RecordHead{Status: internStatus(raw[1]), Generation: generation,
			NextRestartAt: dbTimePtr(restart)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids, start := string(buf), 0
	for i := range items {
		items[i].GameID, items[i].ContainerID = ids[start:ends[2*i]], ids[ends[2*i]:ends[2*i+1]]
		start = ends[2*i+1]
		if items[i].NextRestartAt != nil {
			// A pass keeps a pending restart's game id on its schedule:
			// it must not hold the page's string alive.
			items[i].GameID = strings.Clone(items[i].GameID)
		}
	}
	return items, nil
}
