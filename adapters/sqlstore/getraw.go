package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/galaxy-game/rtmanager/ports"
)

// getRecordRaw reads gameID's record with hot.getRecord on the pgx
// connection under database/sql, scanning straight into row's fields.
// database/sql's QueryContext starts a goroutine per query whose context
// can be cancelled (every store call's is: see bound) and bun scans by
// reflection per row; the record read runs once per lifecycle operation,
// so both show in its CPU (docs/BENCHMARKS.md, P2). Errors: ErrNotFound
// when there is none, and the database's.
func (s *Store) getRecordRaw(ctx context.Context, row *recordRow, gameID string) error {
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	v := reflect.ValueOf(row).Elem()
	dest := make([]any, len(s.hot.getFields))
	for i, f := range s.hot.getFields {
		dest[i] = f.Value(v).Addr().Interface()
	}
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: driver connection is %T, not pgx", dc)
		}
		return c.Conn().QueryRow(ctx, s.hot.getRecord, cachedPlan, gameID).Scan(dest...)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.ErrNotFound
	}
	return err
}
