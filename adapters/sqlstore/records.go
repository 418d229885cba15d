package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Page sizes of List.
const (
	defaultPage = 100
	// maxPage caps one page; a caller asking for more gets this many and a
	// cursor to continue from.
	maxPage = 1000
)

// recordRow is a row of runtime_records.
type recordRow struct {
	bun.BaseModel `bun:"table:runtime_records,alias:r"`

	GameID      string     `bun:"game_id,pk"`
	Status      string     `bun:"status"`
	ContainerID string     `bun:"current_container_id"`
	ImageRef    string     `bun:"current_image_ref"`
	Endpoint    string     `bun:"endpoint"`
	Generation  int64      `bun:"generation"`
	Env         string     `bun:"env"`
	CreatedAt   time.Time  `bun:"created_at"`
	StartedAt   *time.Time `bun:"started_at"`
	StoppedAt   *time.Time `bun:"stopped_at"`
	RemovedAt   *time.Time `bun:"removed_at"`
	LastOpAt    time.Time  `bun:"last_op_at"`
	// The automatic-restart columns (SPEC §3a): JSON policy and state.
	RestartPolicy string     `bun:"restart_policy"`
	RestartCount  int        `bun:"restart_count"`
	NextRestartAt *time.Time `bun:"next_restart_at"`
	RestartState  string     `bun:"restart_state"`
}

func toRecordRow(r core.Record) (recordRow, error) {
	env, err := encodeJSON(r.Env)
	if err != nil {
		return recordRow{}, fmt.Errorf("env: %w", err)
	}
	policy, err := encodePolicy(r.RestartPolicy)
	if err != nil {
		return recordRow{}, fmt.Errorf("restart policy: %w", err)
	}
	state, err := encodeCrash(r.Crash)
	if err != nil {
		return recordRow{}, fmt.Errorf("restart state: %w", err)
	}
	return recordRow{
		GameID: r.GameID, Status: string(r.Status), ContainerID: r.ContainerID,
		ImageRef: r.ImageRef, Endpoint: r.Endpoint, Generation: r.Generation, Env: env,
		CreatedAt: dbTime(r.CreatedAt), StartedAt: dbTimePtr(r.StartedAt),
		StoppedAt: dbTimePtr(r.StoppedAt), RemovedAt: dbTimePtr(r.RemovedAt),
		LastOpAt:      dbTime(r.LastOpAt),
		RestartPolicy: policy, RestartCount: r.RestartCount,
		NextRestartAt: dbTimePtr(r.NextRestartAt), RestartState: state,
	}, nil
}

func (row recordRow) record() (core.Record, error) {
	var env map[string]string
	if err := decodeJSON(row.Env, &env); err != nil {
		return core.Record{}, fmt.Errorf("env of %q: %w", row.GameID, err)
	}
	policy, err := decodePolicy(row.RestartPolicy)
	if err != nil {
		return core.Record{}, fmt.Errorf("restart policy of %q: %w", row.GameID, err)
	}
	state, err := decodeCrash(row.RestartState)
	if err != nil {
		return core.Record{}, fmt.Errorf("restart state of %q: %w", row.GameID, err)
	}
	return core.Record{
		GameID: row.GameID, Status: core.Status(row.Status), ContainerID: row.ContainerID,
		ImageRef: row.ImageRef, Endpoint: row.Endpoint, Generation: row.Generation, Env: env,
		CreatedAt: dbTime(row.CreatedAt), StartedAt: dbTimePtr(row.StartedAt),
		StoppedAt: dbTimePtr(row.StoppedAt), RemovedAt: dbTimePtr(row.RemovedAt),
		LastOpAt:      dbTime(row.LastOpAt),
		RestartPolicy: policy, RestartCount: row.RestartCount,
		NextRestartAt: dbTimePtr(row.NextRestartAt), Crash: state,
	}, nil
}

// dbTime returns t as the database keeps it: UTC, whole microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// dbTimePtr returns a fresh pointer to dbTime(*t), or nil for nil.
func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := dbTime(*t)
	return &v
}

// Get returns the record of gameID. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) Get(ctx context.Context, gameID string) (_ core.Record, err error) {
	defer wrap(&err, "get record %q", gameID)
	var row recordRow
	if s.hot != nil {
		ctx, cancel := s.bound(ctx)
		defer cancel()
		err = s.getRecordHot(ctx, &row, gameID)
	} else {
		err = s.getRow(ctx, &row, gameID)
	}
	if err != nil {
		return core.Record{}, err
	}
	return row.record()
}

// getRow scans the row of gameID into row, a pointer to a table model.
// Errors: ErrNotFound when there is none, and the database's.
func (s *Store) getRow(ctx context.Context, row any, gameID string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.db.NewSelect().Model(row).Where("game_id = ?", gameID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.ErrNotFound
	}
	return err
}

// Create inserts rec. Errors: ErrConflict when the game has a record
// already, ErrUnavailable.
func (s *Store) Create(ctx context.Context, rec core.Record) (err error) {
	defer wrap(&err, "create record %q", rec.GameID)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row, err := toRecordRow(rec)
	if err != nil {
		return err
	}
	if s.hot != nil {
		_, err = s.db.DB.ExecContext(ctx, s.hot.createRecord, args(&row, s.hot.createFields)...)
		return err
	}
	_, err = s.db.NewInsert().Model(&row).Exec(ctx)
	return err
}

// Swap replaces the record of next.GameID with next (all fields but
// CreatedAt) in one conditional UPDATE, only if the stored record still has
// expect's status, container id and generation. Errors: ErrNotFound,
// ErrConflict, ErrUnavailable.
func (s *Store) Swap(ctx context.Context, expect ports.Expect, next core.Record) (err error) {
	defer wrap(&err, "swap record %q", next.GameID)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row, err := toRecordRow(next)
	if err != nil {
		return err
	}
	if s.hot == nil {
		return swapRow(ctx, s.db, expect, &row)
	}
	return s.execSwap(ctx, s.hot.swap, expect, &row)
}

// swapRow is Swap's conditional UPDATE on db (the store or a transaction).
func swapRow(ctx context.Context, db bun.IDB, expect ports.Expect, row *recordRow) error {
	res, err := db.NewUpdate().Model(row).
		ExcludeColumn("game_id", "created_at").
		Where("game_id = ?", row.GameID).
		Where("status = ?", string(expect.Status)).
		Where("current_container_id = ?", expect.ContainerID).
		Where("generation = ?", expect.Generation).
		Exec(ctx)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	return swapFailed(ctx, db, row.GameID)
}

// swapFailed says why a conditional UPDATE of gameID's record changed no
// row: ErrNotFound or ErrConflict.
func swapFailed(ctx context.Context, db bun.IDB, gameID string) error {
	// Records are never deleted, so a record missing now was missing when
	// the UPDATE ran.
	exists, err := db.NewSelect().Model((*recordRow)(nil)).Where("game_id = ?", gameID).Exists(ctx)
	switch {
	case err != nil:
		return err
	case !exists:
		return ports.ErrNotFound
	default:
		return ports.ErrConflict
	}
}

// List returns up to q.Limit records (100 when unset, at most 1000) with
// game_id > q.After, in bytewise game_id order, and the cursor of the next
// page ("" on the last page). Errors: ErrUnavailable.
func (s *Store) List(ctx context.Context, q ports.ListQuery) (_ []core.Record, next string, err error) {
	defer wrap(&err, "list records")
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []recordRow
	sel, limit := s.pageSelect(&rows, q, maxPage)
	if err := sel.Scan(ctx); err != nil {
		return nil, "", err
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].GameID
	}
	items := make([]core.Record, len(rows))
	for i, row := range rows {
		if items[i], err = row.record(); err != nil {
			return nil, "", err
		}
	}
	return items, next, nil
}

// CountByStatus returns how many records are in each status; statuses
// without records are absent. Errors: ErrUnavailable.
func (s *Store) CountByStatus(ctx context.Context) (_ map[core.Status]int, err error) {
	defer wrap(&err, "count records by status")
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var counts []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err = s.db.NewSelect().Model((*recordRow)(nil)).
		Column("status").ColumnExpr("count(*) AS n").Group("status").
		Scan(ctx, &counts)
	if err != nil {
		return nil, err
	}
	out := make(map[core.Status]int, len(counts))
	for _, c := range counts {
		out[core.Status(c.Status)] = c.N
	}
	return out, nil
}
