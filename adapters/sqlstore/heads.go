package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// headRow is the head of a row of runtime_records: the columns a reconcile
// pass compares, none of them JSON. It names the table and columns of
// ListHeads's SELECT; the rows are scanned without reflection.
type headRow struct {
	bun.BaseModel `bun:"table:runtime_records,alias:r"`

	GameID        string     `bun:"game_id,pk"`
	Status        string     `bun:"status"`
	ContainerID   string     `bun:"current_container_id"`
	Generation    int64      `bun:"generation"`
	NextRestartAt *time.Time `bun:"next_restart_at"`
}

// statuses are the status values a scan interns, so a page of heads does
// not hold one copy of "running" per row.
var statuses = core.Statuses()

// maxHeadPage caps one page of ListHeads: heads are small (no JSON), so a
// page may be ten times List's, and a pass over 100,000 records makes a
// tenth of the round trips.
const maxHeadPage = 10 * maxPage

// ListHeads is List reading only the head columns of each row: the same
// WHERE, order and cursor, pages of up to maxHeadPage. Errors:
// ErrUnavailable.
func (s *Store) ListHeads(ctx context.Context, q ports.ListQuery) (_ []core.RecordHead, next string, err error) {
	defer wrap(&err, "list record heads")
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.hot != nil {
		limit := pageLimit(q, maxHeadPage)
		items, err := s.listHeadsRaw(ctx, q, limit)
		if err != nil {
			return nil, "", err
		}
		return cutPage(items, limit)
	}
	sel, limit := s.pageSelect((*headRow)(nil), q, maxHeadPage)
	rows, err := sel.Column(headColumns...).Rows(ctx)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	// Scanned as raw bytes into the page: one allocation per page for
	// the ids instead of two per row.
	page := newHeadPage(q, limit)
	var (
		id, status, container sql.RawBytes
		generation            int64
		restart               bun.NullTime
	)
	for rows.Next() {
		if err := rows.Scan(&id, &status, &container, &generation, &restart); err != nil {
			return nil, "", err
		}
		var at *time.Time
		if !restart.IsZero() {
			at = &restart.Time
		}
		page.add(id, status, container, generation, at)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return cutPage(page.heads(), limit)
}

// cutPage cuts items, read one past a page of limit, to the page and
// returns the cursor of the next page (empty when none follows).
func cutPage(items []core.RecordHead, limit int) (_ []core.RecordHead, next string, err error) {
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].GameID
	}
	return items, next, nil
}

// internStatus returns the core.Status constant spelled b, or a new
// string for a value core does not know.
func internStatus(b []byte) core.Status {
	for _, st := range statuses {
		if string(st) == string(b) {
			return st
		}
	}
	return core.Status(b)
}

// pageSelect returns the SELECT of the page q picks into model (a pointer
// to a slice of a table model of runtime_records): one row more than the
// page, so the caller sees whether another page follows, and the page size
// (q.Limit, defaultPage when unset, at most maxLimit).
func (s *Store) pageSelect(model any, q ports.ListQuery, maxLimit int) (*bun.SelectQuery, int) {
	limit := pageLimit(q, maxLimit)
	sel := s.db.NewSelect().Model(model).Where("game_id > ?", q.After).
		OrderExpr("game_id ASC").Limit(int64(limit) + 1)
	if q.Status != "" {
		sel = sel.Where("status = ?", string(q.Status))
	}
	return sel, limit
}

// pageLimit is the page size of q: q.Limit, defaultPage when unset, at
// most maxLimit.
func pageLimit(q ports.ListQuery, maxLimit int) int {
	if q.Limit <= 0 {
		return min(defaultPage, maxLimit)
	}
	return min(q.Limit, maxLimit)
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
