package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/storetest"
)

// backends opens a migrated store per database kind.
var backends = map[string]func(testing.TB) *sqlstore.Store{
	"sqlite":   openSQLite,
	"postgres": openPostgres,
	// The hot-path statements as bun renders them instead of as cached
	// prepared plans (sqlstore.Config.Interpolate): both paths must pass.
	"postgres-interpolated": func(tb testing.TB) *sqlstore.Store {
		tb.Helper()
		return mustOpenConfig(tb, sqlstore.Config{URL: testenv.PostgresURL(tb), Interpolate: true})
	},
}

func openSQLite(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	return mustOpen(tb, "sqlite://"+filepath.Join(tb.TempDir(), "state", "rtm.db"))
}

func openPostgres(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	return mustOpen(tb, testenv.PostgresURL(tb))
}

// mustOpen opens and migrates the store at url and closes it when tb ends.
func mustOpen(tb testing.TB, url string) *sqlstore.Store {
	tb.Helper()
	return mustOpenConfig(tb, sqlstore.Config{URL: url})
}

// mustOpenConfig is mustOpen with a Config.
func mustOpenConfig(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.OpenConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// TestContract runs the ports.Store contract suite on each database. The
// subtests share one database: the suite keeps their game ids apart.
func TestContract(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			storetest.Run(t, func(*testing.T) ports.Store { return s })
		})
	}
}

// TestTimesUTC checks that times come back in UTC, whole microseconds, as
// the same instants that went in.
func TestTimesUTC(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			in := time.Date(2030, 1, 2, 3, 4, 5, 678901999, time.FixedZone("Y", -7*3600))
			rec := core.Record{GameID: "utc", Status: core.StatusRunning, Generation: 1,
				CreatedAt: in, StartedAt: &in, LastOpAt: in}
			if err := s.Create(ctx, rec); err != nil {
				t.Fatalf("Create: %v", err)
			}
			got, err := s.Get(ctx, rec.GameID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			want := in.UTC().Truncate(time.Microsecond)
			for field, tm := range map[string]time.Time{"CreatedAt": got.CreatedAt,
				"StartedAt": *got.StartedAt, "LastOpAt": got.LastOpAt} {
				if tm.Location() != time.UTC || !tm.Equal(want) || tm.Nanosecond()%1000 != 0 {
					t.Errorf("%s = %v, want %v in UTC", field, tm, want)
				}
			}
		})
	}
}

// TestEnvRoundTrip checks that a record's job environment survives Create
// and Swap, and that an empty one comes back empty.
func TestEnvRoundTrip(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			now := time.Now()
			rec := core.Record{GameID: "env", Status: core.StatusRunning, ContainerID: "c1",
				Generation: 1, Env: map[string]string{"MAP": "north", "SEED": "42"}, CreatedAt: now, LastOpAt: now}
			if err := s.Create(ctx, rec); err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got := mustGet(t, s, rec.GameID); !maps.Equal(got.Env, rec.Env) {
				t.Errorf("Env after Create = %v, want %v", got.Env, rec.Env)
			}
			next := rec.Stopped(now)
			next.Env = nil
			if err := s.Swap(ctx, ports.ExpectOf(rec), next); err != nil {
				t.Fatalf("Swap: %v", err)
			}
			if got := mustGet(t, s, rec.GameID); len(got.Env) != 0 {
				t.Errorf("Env after Swap to none = %v, want empty", got.Env)
			}
		})
	}
}

// TestMigrateTwice checks that the store's Migrate is idempotent and that
// MigrationStatus then reports nothing pending.
func TestMigrateTwice(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context() // open migrates once
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			st, err := s.MigrationStatus(ctx)
			if err != nil {
				t.Fatalf("MigrationStatus: %v", err)
			}
			if st.Version == "" || len(st.Pending) != 0 {
				t.Errorf("MigrationStatus = %+v, want a version and nothing pending", st)
			}
		})
	}
}

func mustGet(tb testing.TB, s *sqlstore.Store, gameID string) core.Record {
	tb.Helper()
	rec, err := s.Get(tb.Context(), gameID)
	if err != nil {
		tb.Fatalf("Get(%s): %v", gameID, err)
	}
	return rec
}

// TestSQLiteCreatesDirectory checks that Open makes the file's directory.
func TestSQLiteCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "rtm.db")
	s := mustOpen(t, "sqlite://"+path)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	tests := []struct {
		url      string
		mentions string
	}{
		{"mysql://root@localhost/rtm", `unsupported database URL scheme "mysql"`},
		{"redis://127.0.0.1:6379", `unsupported database URL scheme "redis"`},
		{"/var/lib/rtm.db", "no scheme"},
		{"", "no scheme"},
		{"postgres://user:secret@host:notaport/db", "cannot be parsed"},
		{"postgres://%zz", "cannot be parsed"},
		{"sqlite://", "names no file"},
		{"sqlite:rtm.db", "sqlite://<path>"},
		{"postgres://host/db?sslmode=bogus", "sslmode"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			s, err := sqlstore.Open(t.Context(), tc.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.url)
			}
			t.Logf("Open(%q): %v", tc.url, err)
			if !errors.Is(err, ports.ErrInvalid) {
				t.Errorf("Open(%q) = %v, want an error wrapping ErrInvalid", tc.url, err)
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("Open(%q) = %v, want it to mention %q", tc.url, err, tc.mentions)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open(%q) = %v leaks the password", tc.url, err)
			}
		})
	}
}

// TestUnavailable points the store at a port nobody listens on: every call
// fails with ErrUnavailable, never ErrNotFound.
func TestUnavailable(t *testing.T) {
	s, err := sqlstore.OpenConfig(t.Context(), sqlstore.Config{
		URL:          "postgres://rtm:rtm@127.0.0.1:1/rtm?sslmode=disable&connect_timeout=2",
		QueryTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	rec := core.Record{GameID: "g1", Status: core.StatusRunning, ContainerID: "c1", Generation: 1}
	calls := map[string]func() error{
		"Ping": func() error { return s.Ping(ctx) },
		"Get":  func() error { _, err := s.Get(ctx, "g1"); return err },
		"Swap": func() error {
			return s.Swap(ctx, ports.ExpectOf(rec), rec.Stopped(time.Now()))
		},
		"Create":          func() error { return s.Create(ctx, rec) },
		"List":            func() error { _, _, err := s.List(ctx, ports.ListQuery{}); return err },
		"CountByStatus":   func() error { _, err := s.CountByStatus(ctx); return err },
		"AppendOperation": func() error { _, err := s.AppendOperation(ctx, core.OperationEntry{GameID: "g1"}); return err },
		"ListOperations":  func() error { _, err := s.ListOperations(ctx, "g1", 0); return err },
		"GetSnapshot":     func() error { _, err := s.GetSnapshot(ctx, "g1"); return err },
		"UpsertSnapshot":  func() error { return s.UpsertSnapshot(ctx, core.HealthSnapshot{GameID: "g1"}) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			t.Logf("%s: %v", name, err)
			if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrNotFound) {
				t.Errorf("%s = %v, want an error wrapping ErrUnavailable and not ErrNotFound", name, err)
			}
		})
	}
}

// TestQueryTimeout checks that the per-query timeout bounds a call whose
// context has no deadline, and that the failure reads as unavailable.
func TestQueryTimeout(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := sqlstore.OpenConfig(t.Context(), sqlstore.Config{URL: url, QueryTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	rec := core.Record{GameID: "locked", Status: core.StatusRunning, ContainerID: "c1", Generation: 1}
	if err := s.Create(t.Context(), rec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Another session holds the row lock, so the Swap waits until its
	// query timeout ends it.
	lockRecord(t, url, rec.GameID)
	err = s.Swap(context.Background(), ports.ExpectOf(rec), rec.Stopped(time.Now()))
	if !errors.Is(err, ports.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Swap on a locked row = %v, want ErrUnavailable from the deadline", err)
	}
}

// lockRecord locks the row of gameID in a transaction of its own session
// until tb ends.
func lockRecord(tb testing.TB, url, gameID string) {
	tb.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tx, err := db.BeginTx(tb.Context(), nil)
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	tb.Cleanup(func() {
		tx.Rollback()
		db.Close()
	})
	if _, err := tx.Exec("SELECT 1 FROM runtime_records WHERE game_id = $1 FOR UPDATE", gameID); err != nil {
		tb.Fatalf("lock %s: %v", gameID, err)
	}
}
