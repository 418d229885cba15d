package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/galaxy-game/rtmanager/core"
)

// defaultOperations is the page of ListOperations when limit is unset.
const defaultOperations = 50

// operationRow is a row of operation_log.
type operationRow struct {
	bun.BaseModel `bun:"table:operation_log,alias:o"`

	ID            int64     `bun:"id,pk,autoincrement"`
	GameID        string    `bun:"game_id"`
	OpKind        string    `bun:"op_kind"`
	OpSource      string    `bun:"op_source"`
	SourceRef     string    `bun:"source_ref"`
	CorrelationID string    `bun:"correlation_id"`
	ImageRef      string    `bun:"image_ref"`
	ContainerID   string    `bun:"container_id"`
	Outcome       string    `bun:"outcome"`
	ErrorCode     string    `bun:"error_code"`
	ErrorMessage  string    `bun:"error_message"`
	StartedAt     time.Time `bun:"started_at"`
	FinishedAt    time.Time `bun:"finished_at"`
}

func toOperationRow(e core.OperationEntry) operationRow {
	return operationRow{
		GameID: e.GameID, OpKind: string(e.OpKind), OpSource: string(e.OpSource),
		SourceRef: e.SourceRef, CorrelationID: e.CorrelationID, ImageRef: e.ImageRef,
		ContainerID: e.ContainerID, Outcome: string(e.Outcome), ErrorCode: string(e.ErrorCode),
		ErrorMessage: e.ErrorMessage, StartedAt: dbTime(e.StartedAt), FinishedAt: dbTime(e.FinishedAt),
	}
}

func (row operationRow) entry() core.OperationEntry {
	return core.OperationEntry{
		ID: row.ID, GameID: row.GameID, OpKind: core.OpKind(row.OpKind),
		OpSource: core.OpSource(row.OpSource), SourceRef: row.SourceRef,
		CorrelationID: row.CorrelationID, ImageRef: row.ImageRef, ContainerID: row.ContainerID,
		Outcome: core.Outcome(row.Outcome), ErrorCode: core.Code(row.ErrorCode),
		ErrorMessage: row.ErrorMessage, StartedAt: dbTime(row.StartedAt),
		FinishedAt: dbTime(row.FinishedAt),
	}
}

// AppendOperation stores e (ignoring e.ID) and returns the id the database
// gave it; ids grow with every append. Errors: ErrUnavailable.
func (s *Store) AppendOperation(ctx context.Context, e core.OperationEntry) (_ int64, err error) {
	defer wrap(&err, "append operation of %q", e.GameID)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row := toOperationRow(e)
	if s.hot != nil {
		err := s.bestEffort.DB.QueryRowContext(ctx, s.hot.appendOp, args(&row, s.hot.opFields)...).Scan(&row.ID)
		return row.ID, err
	}
	if _, err := s.bestEffort.NewInsert().Model(&row).ExcludeColumn("id").Returning("id").Exec(ctx); err != nil {
		return 0, err
	}
	return row.ID, nil
}

// ListOperations returns up to limit entries of gameID (50 when unset),
// newest first. Errors: ErrUnavailable.
func (s *Store) ListOperations(ctx context.Context, gameID string, limit int) (_ []core.OperationEntry, err error) {
	defer wrap(&err, "list operations of %q", gameID)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if limit <= 0 {
		limit = defaultOperations
	}
	var rows []operationRow
	if s.hot != nil {
		sqlRows, qerr := s.db.DB.QueryContext(ctx, s.hot.listOps, cachedPlan, gameID, limit)
		if err = qerr; err == nil {
			err = s.db.ScanRows(ctx, sqlRows, &rows)
		}
	} else {
		err = s.db.NewSelect().Model(&rows).Where("game_id = ?", gameID).
			OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx)
	}
	if err != nil {
		return nil, err
	}
	out := make([]core.OperationEntry, len(rows))
	for i, row := range rows {
		out[i] = row.entry()
	}
	return out, nil
}
