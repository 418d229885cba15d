// Package sqlstore is the SQL implementation of ports.Store, on PostgreSQL
// (pgx through database/sql) or on an embedded SQLite file (modernc.org/sqlite,
// pure Go), both through bun. The schema lives in the migrations package.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/galaxy-game/rtmanager/internal/redact"
	"github.com/galaxy-game/rtmanager/migrations"
	"github.com/galaxy-game/rtmanager/ports"
)

// Defaults of Config.
const (
	DefaultQueryTimeout = 5 * time.Second
	DefaultMaxConns     = 10
)

// sqlitePragmas are set on every SQLite connection: wait for a busy
// database instead of failing at once, write-ahead logging so readers do
// not block the writer, and foreign keys enforced.
var sqlitePragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)"}

// Config configures a Store.
type Config struct {
	// URL names the database: postgres://… or postgresql://… for
	// PostgreSQL, sqlite://<path> for an SQLite file (sqlite:///abs/path or
	// sqlite://relative/path; extra query parameters go to the driver).
	URL string
	// QueryTimeout bounds every query whose context has no earlier
	// deadline; 0 means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxConns caps PostgreSQL connections; 0 means DefaultMaxConns. SQLite
	// always uses one connection, which serialises writers in-process
	// instead of making them poll the file lock.
	MaxConns int
	// SyncBestEffort makes the best-effort writes (operation log appends
	// and health snapshot upserts) wait for the WAL flush like record
	// writes do. By default they commit asynchronously on PostgreSQL
	// (synchronous_commit=off on a small second pool): they are visible at
	// once and reach disk within a few hundred milliseconds, so only a
	// PostgreSQL crash can lose the newest of them, never a runtime record.
	// That halves the commits a lifecycle operation waits for (see
	// docs/BENCHMARKS.md, P2). SQLite ignores it.
	SyncBestEffort bool
}

// Store is a ports.Store on a SQL database. It is safe for concurrent use.
type Store struct {
	db *bun.DB
	// bestEffort runs the operation log appends and snapshot upserts; it
	// is db itself unless a PostgreSQL store commits them asynchronously.
	bestEffort *bun.DB
	timeout    time.Duration
}

var _ ports.Store = (*Store)(nil)

// Open opens the database url names with the default Config; see
// OpenConfig.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenConfig(ctx, Config{URL: url})
}

// OpenConfig opens the database cfg.URL names. It does not contact a
// PostgreSQL server (call Ping or Migrate for that), so a store opened
// while the server is down works once it is up. For SQLite it creates the
// file's parent directory and opens the file. Errors: ErrInvalid for a URL
// that is not understood, and the error of creating the SQLite file.
func OpenConfig(ctx context.Context, cfg Config) (_ *Store, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlstore: open: %w", err)
		}
	}()
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the URL, password and all
		}
		return nil, fmt.Errorf("%w: database URL cannot be parsed: %w", ports.ErrInvalid, err)
	}
	var db, bestEffort *bun.DB
	switch u.Scheme {
	case "postgres", "postgresql":
		db, bestEffort, err = openPostgres(cfg)
	case "sqlite":
		db, err = openSQLite(ctx, cfg)
	case "":
		return nil, fmt.Errorf("%w: database URL has no scheme; use postgres://, postgresql:// or sqlite://",
			ports.ErrInvalid)
	default:
		return nil, fmt.Errorf("%w: unsupported database URL scheme %q; use postgres://, postgresql:// or sqlite://",
			ports.ErrInvalid, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	if bestEffort == nil {
		bestEffort = db
	}
	return &Store{db: db, bestEffort: bestEffort, timeout: cfg.QueryTimeout}, nil
}

// openPostgres returns the pool for record writes and reads, and the pool
// for best-effort writes (nil when they share the first one).
func openPostgres(cfg Config) (db, bestEffort *bun.DB, err error) {
	cc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ports.ErrInvalid, redact.Error(err))
	}
	// bun renders arguments into the query text, so every query is new to
	// the server: the simple protocol saves the prepare round trip and the
	// statement cache churn, unless the URL chose a mode itself.
	if !strings.Contains(cfg.URL, "default_query_exec_mode") {
		cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	open := func(cc *pgx.ConnConfig, conns int) *bun.DB {
		sqldb := stdlib.OpenDB(*cc)
		sqldb.SetMaxOpenConns(conns)
		sqldb.SetMaxIdleConns(conns)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		return bun.NewDB(sqldb, pgdialect.New())
	}
	db = open(cc, cfg.MaxConns)
	if cfg.SyncBestEffort {
		return db, nil, nil
	}
	async := cc.Copy()
	if async.RuntimeParams == nil {
		async.RuntimeParams = map[string]string{}
	}
	async.RuntimeParams["synchronous_commit"] = "off"
	return db, open(async, max(cfg.MaxConns/2, 2)), nil
}

func openSQLite(ctx context.Context, cfg Config) (*bun.DB, error) {
	const prefix = "sqlite://"
	if len(cfg.URL) < len(prefix) || !strings.EqualFold(cfg.URL[:len(prefix)], prefix) {
		return nil, fmt.Errorf("%w: SQLite URL must be sqlite://<path>", ports.ErrInvalid)
	}
	path, rawQuery, _ := strings.Cut(cfg.URL[len(prefix):], "?")
	if path == "" {
		return nil, fmt.Errorf("%w: SQLite URL %q names no file", ports.ErrInvalid, cfg.URL)
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: SQLite URL query: %w", ports.ErrInvalid, err)
	}
	for _, p := range sqlitePragmas {
		query.Add("_pragma", p)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the directory of %s: %w", path, err)
	}
	sqldb, err := sql.Open("sqlite", path+"?"+query.Encode())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	}
	sqldb.SetMaxOpenConns(1)
	sqldb.SetConnMaxIdleTime(0)
	pctx, cancel := context.WithTimeout(ctx, cfg.QueryTimeout)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// Close closes the database; the Store cannot be used afterwards.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.bestEffort != s.db {
		err = errors.Join(err, s.bestEffort.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// Ping checks that the database is reachable. Errors: ErrUnavailable.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer wrap(&err, "ping")
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// Migrate applies the pending schema migrations; on an up-to-date database
// it changes nothing. It is bounded by ctx only, not by the query timeout.
func (s *Store) Migrate(ctx context.Context) error {
	return classified(migrations.Migrate(ctx, s.db))
}

// MigrationStatus reports the applied and pending schema migrations.
func (s *Store) MigrationStatus(ctx context.Context) (migrations.State, error) {
	st, err := migrations.Status(ctx, s.db)
	return st, classified(err)
}

// bound returns ctx limited to the query timeout, unless ctx already ends
// earlier.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}
