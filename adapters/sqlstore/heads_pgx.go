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

// headPage builds a page of heads from rows read as raw bytes: the game
// and container ids of the page are copied into one buffer and become one
// string that its heads share (one allocation per page instead of two per
// row); a head with a pending restart gets its own game id, since the
// restart schedule keeps it and must not keep the page's string alive.
// The status is interned.
type headPage struct {
	items []core.RecordHead
	buf   []byte
	// ends[2i] and ends[2i+1] are where row i's game id and container id
	// end in buf.
	ends  []int
	limit int
}

// newHeadPage returns a page for up to limit+1 heads of q. The first page
// of a walk starts at List's size and doubles up to limit+1 (append's
// growth of a long slice is 1.25×: it copied and dropped a page of 10,000
// heads several times over); a later page (q.After set: the page before
// was full) starts at limit+1.
func newHeadPage(q ports.ListQuery, limit int) *headPage {
	n := min(limit+1, maxPage)
	if q.After != "" {
		n = limit + 1
	}
	return &headPage{items: make([]core.RecordHead, 0, n), buf: make([]byte, 0, 80*n), ends: make([]int, 0, 2*n),
		limit: limit}
}

// add appends a head; the byte slices are copied.
func (p *headPage) add(gameID, status, containerID []byte, generation int64, restart *time.Time) {
	if len(p.items) == cap(p.items) {
		more := max(1, min(cap(p.items), p.limit+1-len(p.items)))
		p.items, p.ends = slices.Grow(p.items, more), slices.Grow(p.ends, 2*more)
		p.buf = slices.Grow(p.buf, (len(p.buf)/len(p.items)+1)*more)
	}
	p.buf = append(p.buf, gameID...)
	p.ends = append(p.ends, len(p.buf))
	p.buf = append(p.buf, containerID...)
	p.ends = append(p.ends, len(p.buf))
	p.items = append(p.items, core.RecordHead{Status: internStatus(status), Generation: generation,
		NextRestartAt: dbTimePtr(restart)})
}

// heads returns the page's heads, their ids set.
func (p *headPage) heads() []core.RecordHead {
	ids, start := string(p.buf), 0
	for i := range p.items {
		h := &p.items[i]
		h.GameID, h.ContainerID = ids[start:p.ends[2*i]], ids[p.ends[2*i]:p.ends[2*i+1]]
		start = p.ends[2*i+1]
		if h.NextRestartAt != nil {
			h.GameID = strings.Clone(h.GameID)
		}
	}
	return p.items
}
