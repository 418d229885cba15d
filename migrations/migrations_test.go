package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/migrations"
)

var tables = []string{"health_snapshots", "operation_log", "runtime_records"}

var indexes = []string{"operation_log_game_id_id", "runtime_records_status_game_id"}

func openSQLite(t *testing.T) *bun.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rtm.db")
	sqldb, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqldb.SetMaxOpenConns(1)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("pgx", testenv.PostgresURL(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

func databases() map[string]func(*testing.T) *bun.DB {
	return map[string]func(*testing.T) *bun.DB{"sqlite": openSQLite, "postgres": openPostgres}
}

// schema returns the rtmanager tables and indexes db has, sorted.
func schema(t *testing.T, db *bun.DB) (tbls, idxs []string) {
	t.Helper()
	ctx := context.Background()
	var q string
	if db.Dialect().Name() == dialect.PG {
		q = `SELECT tablename AS name, 'table' AS kind FROM pg_tables WHERE schemaname = 'public'
			UNION ALL SELECT indexname, 'index' FROM pg_indexes WHERE schemaname = 'public'`
	} else {
		q = `SELECT name, type AS kind FROM sqlite_master WHERE type IN ('table', 'index')`
	}
	var rows []struct {
		Name string
		Kind string
	}
	if err := db.NewRaw(q).Scan(ctx, &rows); err != nil {
		t.Fatalf("read schema: %v", err)
	}
	want := map[string]bool{}
	for _, n := range append(append([]string{}, tables...), indexes...) {
		want[n] = true
	}
	for _, r := range rows {
		if !want[r.Name] {
			continue
		}
		if r.Kind == "table" {
			tbls = append(tbls, r.Name)
		} else {
			idxs = append(idxs, r.Name)
		}
	}
	sort.Strings(tbls)
	sort.Strings(idxs)
	return tbls, idxs
}

func mustStatus(t *testing.T, db *bun.DB) migrations.State {
	t.Helper()
	st, err := migrations.Status(context.Background(), db)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

func TestMigrateRollback(t *testing.T) {
	for name, open := range databases() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			st := mustStatus(t, db)
			if st.Version != "" || len(st.Applied) != 0 || len(st.Pending) == 0 {
				t.Fatalf("fresh database: got %+v, want nothing applied and something pending", st)
			}
			latest := st.Pending[len(st.Pending)-1].Name

			if err := migrations.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			first := mustStatus(t, db)
			if first.Version != latest || len(first.Pending) != 0 {
				t.Fatalf("after Migrate: got %+v, want version %s and nothing pending", first, latest)
			}
			tbls, idxs := schema(t, db)
			if diff := cmp.Diff(tables, tbls); diff != "" {
				t.Errorf("tables (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(indexes, idxs); diff != "" {
				t.Errorf("indexes (-want +got):\n%s", diff)
			}

			if err := migrations.Migrate(ctx, db); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if diff := cmp.Diff(first, mustStatus(t, db)); diff != "" {
				t.Errorf("second Migrate changed the state (-before +after):\n%s", diff)
			}

			var applied []string
			for _, s := range first.Applied {
				applied = append([]string{s.Name}, applied...)
			}
			names, err := migrations.Rollback(ctx, db)
			if err != nil {
				t.Fatalf("Rollback: %v", err)
			}
			if diff := cmp.Diff(applied, names); diff != "" {
				t.Errorf("rolled back (-want +got):\n%s", diff)
			}
			if tbls, idxs := schema(t, db); len(tbls)+len(idxs) != 0 {
				t.Errorf("after Rollback: tables %v and indexes %v remain", tbls, idxs)
			}
			if st := mustStatus(t, db); st.Version != "" || len(st.Pending) != len(first.Applied) {
				t.Errorf("after Rollback: got %+v, want everything pending", st)
			}
			if names, err := migrations.Rollback(ctx, db); err != nil || len(names) != 0 {
				t.Errorf("Rollback with nothing applied = %v, %v; want nothing, nil", names, err)
			}

			if err := migrations.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate after Rollback: %v", err)
			}
			if st := mustStatus(t, db); st.Version != latest {
				t.Errorf("after re-Migrate: version %q, want %q", st.Version, latest)
			}
		})
	}
}

// TestMigrateConcurrent starts several migrations at once, as instances
// starting together do: the advisory lock lets each step apply once.
func TestMigrateConcurrent(t *testing.T) {
	db := openPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- migrations.Migrate(ctx, db)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if st := mustStatus(t, db); len(st.Pending) != 0 {
		t.Errorf("after concurrent Migrate: %+v still pending", st.Pending)
	}
}

// TestClearRemovedEnv: the v2 migration clears the job env that records
// removed by older versions still hold, and leaves every other record's
// env alone. The migration is marked unapplied after seeding so it runs
// over rows written with the full schema.
func TestClearRemovedEnv(t *testing.T) {
	const step = "20261126130000"
	for name, open := range databases() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := migrations.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			now := time.Now().UTC()
			for _, r := range []struct{ game, status, env string }{
				{"old-removed", "removed", `{"API_SECRET":"hunter2"}`},
				{"old-stopped", "stopped", `{"API_SECRET":"keep"}`},
				{"old-running", "running", `{"MODE":"ranked"}`},
			} {
				if _, err := db.ExecContext(ctx, `INSERT INTO runtime_records
					(game_id, status, env, created_at, last_op_at) VALUES (?, ?, ?, ?, ?)`,
					r.game, r.status, r.env, now, now); err != nil {
					t.Fatalf("seed %s: %v", r.game, err)
				}
			}
			if _, err := db.ExecContext(ctx, "DELETE FROM "+migrations.TableName+" WHERE name = ?", step); err != nil {
				t.Fatalf("mark %s unapplied: %v", step, err)
			}
			if st := mustStatus(t, db); len(st.Pending) != 1 || st.Pending[0].Name != step {
				t.Fatalf("pending = %+v, want only %s", st.Pending, step)
			}
			if err := migrations.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			want := map[string]string{"old-removed": "{}", "old-stopped": `{"API_SECRET":"keep"}`, "old-running": `{"MODE":"ranked"}`}
			for game, env := range want {
				var got string
				if err := db.NewRaw("SELECT env FROM runtime_records WHERE game_id = ?", game).Scan(ctx, &got); err != nil {
					t.Fatalf("read %s: %v", game, err)
				}
				if got != env {
					t.Errorf("%s env = %s, want %s", game, got, env)
				}
			}
		})
	}
}
