// Package migrations holds rtmanager's SQL schema as embedded migrations and
// applies them with bun's migrator, on PostgreSQL and on SQLite alike.
//
// One set of files serves both databases: the schema is the same but for
// three column types (timestamps, the text key's collation and the
// operation log's identity column), which the files take as template data
// chosen by the database's dialect. Two directories would have to be kept
// in step by hand for every future change; one set cannot drift.
package migrations

import (
	"context"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// Names of the tables where bun's migrator keeps its own bookkeeping.
const (
	TableName      = "rtmanager_migrations"
	LocksTableName = "rtmanager_migration_locks"
)

// advisoryLockKey is the PostgreSQL advisory lock that serialises migrations
// run by several rtmanager instances starting at once (the bytes "rtmmigr").
const advisoryLockKey int64 = 0x72746d6d696772

//go:embed sql/*.sql
var files embed.FS

// dialectData is the template data the SQL files are rendered with.
type dialectData struct {
	// Key is the type of a game_id column: text compared bytewise.
	Key string
	// Time is the type of a timestamp column (UTC, microseconds).
	Time string
	// Serial is the operation log's autoincrementing primary key.
	Serial string
}

func dataFor(db *bun.DB) (dialectData, error) {
	switch name := db.Dialect().Name(); name {
	case dialect.PG:
		return dialectData{Key: `TEXT COLLATE "C"`, Time: "TIMESTAMPTZ",
			Serial: "BIGSERIAL PRIMARY KEY"}, nil
	case dialect.SQLite:
		return dialectData{Key: "TEXT", Time: "TIMESTAMP",
			Serial: "INTEGER PRIMARY KEY AUTOINCREMENT"}, nil
	default:
		return dialectData{}, fmt.Errorf("unsupported database dialect %s", name)
	}
}

// migrator returns a bun migrator over the embedded files for db's dialect.
func migrator(db *bun.DB) (*migrate.Migrator, error) {
	data, err := dataFor(db)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, err
	}
	return migrate.NewMigrator(db, ms,
		migrate.WithTableName(TableName),
		migrate.WithLocksTableName(LocksTableName),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithTemplateData(data)), nil
}

// Step is one migration and, once applied, when it was.
type Step struct {
	// Name is the migration's version, the numeric prefix of its files.
	Name string
	// Comment is the rest of the file name, e.g. "init".
	Comment string
	// MigratedAt is when it was applied; zero while it is pending.
	MigratedAt time.Time
}

// State is where a database stands against the embedded migrations.
type State struct {
	// Version is the name of the newest applied migration, "" when none is.
	Version string
	// Applied lists the applied migrations, oldest first.
	Applied []Step
	// Pending lists the migrations not applied yet, oldest first.
	Pending []Step
}

// Migrate applies every pending migration to db. Running it on an
// up-to-date database changes nothing. On PostgreSQL it holds an advisory
// lock, so instances starting together apply each migration once.
func Migrate(ctx context.Context, db *bun.DB) (err error) {
	defer wrap(&err, "migrate")
	m, err := migrator(db)
	if err != nil {
		return err
	}
	return withLock(ctx, db, func() error {
		if err := m.Init(ctx); err != nil {
			return err
		}
		_, err := m.Migrate(ctx)
		return err
	})
}

// Rollback reverts the last group of migrations Migrate applied and
// returns the names it reverted, newest first; none when nothing is applied.
func Rollback(ctx context.Context, db *bun.DB) (names []string, err error) {
	defer wrap(&err, "roll back")
	m, err := migrator(db)
	if err != nil {
		return nil, err
	}
	err = withLock(ctx, db, func() error {
		if err := m.Init(ctx); err != nil {
			return err
		}
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return err
		}
		if len(ms.Applied()) == 0 {
			return nil
		}
		group, err := m.Rollback(ctx)
		for i := len(group.Migrations) - 1; i >= 0; i-- {
			names = append(names, group.Migrations[i].Name)
		}
		return err
	})
	return names, err
}

// Status reports which migrations db has applied and which are pending. It
// creates the (empty) bookkeeping tables when they do not exist yet.
func Status(ctx context.Context, db *bun.DB) (st State, err error) {
	defer wrap(&err, "migration status")
	m, err := migrator(db)
	if err != nil {
		return State{}, err
	}
	if err := m.Init(ctx); err != nil {
		return State{}, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return State{}, err
	}
	for _, mig := range ms {
		step := Step{Name: mig.Name, Comment: mig.Comment}
		if !mig.IsApplied() {
			st.Pending = append(st.Pending, step)
			continue
		}
		step.MigratedAt = mig.MigratedAt.UTC()
		st.Applied = append(st.Applied, step)
		st.Version = mig.Name
	}
	return st, nil
}

// withLock runs fn under PostgreSQL's session advisory lock held on one
// pooled connection; on other databases it just runs fn.
func withLock(ctx context.Context, db *bun.DB, fn func() error) (err error) {
	if db.Dialect().Name() != dialect.PG {
		return fn()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", advisoryLockKey); err != nil {
		return err
	}
	defer func() {
		// Unlock even when ctx is done; if that fails, discard the
		// connection so the session (and its lock) ends with it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, "SELECT pg_advisory_unlock(?)", advisoryLockKey); uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("release advisory lock: %w", uerr))
		}
	}()
	return fn()
}

func wrap(err *error, op string) {
	if *err != nil {
		*err = fmt.Errorf("migrations: %s: %w", op, *err)
	}
}
