package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/galaxy-game/rtmanager/ports"
)

// wrap adds op to *err and, when the database's error means one of the
// port's sentinels, wraps that sentinel too. Every method defers it once.
func wrap(err *error, format string, args ...any) {
	if *err == nil {
		return
	}
	*err = fmt.Errorf("sqlstore: %s: %w", fmt.Sprintf(format, args...), classified(*err))
}

// classified returns err wrapping the port sentinel its cause means, or err
// unchanged when it already wraps one or means none.
func classified(err error) error {
	if err == nil {
		return nil
	}
	s := sentinel(err)
	if s == nil || errors.Is(err, s) {
		return err
	}
	return fmt.Errorf("%w: %w", s, err)
}

// unavailable wraps err in ErrUnavailable unless it already names another
// condition: a failed ping or begin is the database being unreachable.
func unavailable(err error) error {
	if sentinel(err) != nil {
		return err
	}
	return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
}

// sentinel returns the port error that err's cause means, or nil.
func sentinel(err error) error {
	for _, s := range []error{ports.ErrNotFound, ports.ErrConflict, ports.ErrUnavailable, ports.ErrInvalid} {
		if errors.Is(err, s) {
			return s
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgSentinel(pgErr.Code)
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return sqliteSentinel(liteErr.Code())
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr), errors.As(err, &connectErr),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return ports.ErrUnavailable
	}
	return nil
}

// pgSentinel maps a PostgreSQL SQLSTATE to a port error; see
// https://www.postgresql.org/docs/current/errcodes-appendix.html.
func pgSentinel(code string) error {
	switch {
	case code == "23505": // unique_violation
		return ports.ErrConflict
	case strings.HasPrefix(code, "22"), strings.HasPrefix(code, "23"): // data exception, integrity
		return ports.ErrInvalid
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),    // insufficient resources
		strings.HasPrefix(code, "57"),    // operator intervention: shutdown, query canceled
		strings.HasPrefix(code, "58"),    // system error
		code == "40001", code == "40P01": // serialization failure, deadlock
		return ports.ErrUnavailable
	}
	return nil
}

// sqliteSentinel maps an SQLite extended result code to a port error.
func sqliteSentinel(code int) error {
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return ports.ErrConflict
	}
	switch code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
		return ports.ErrInvalid
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
		return ports.ErrUnavailable
	}
	return nil
}
