package sqlstore_test

import (
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestReconcileReadsHeadsOnly runs a reconcile pass over a real database
// in which one record's JSON columns no longer decode (a row written by a
// bug or by hand): the pass reads record heads, so it still looks at every
// game and repairs the one whose container vanished, instead of failing as
// a whole on the row it cannot decode.
func TestReconcileReadsHeadsOnly(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) (url, driver, dsn string){
		"postgres": func(t *testing.T) (string, string, string) {
			u := testenv.PostgresURL(t)
			return u, "pgx", u
		},
		"sqlite": func(t *testing.T) (string, string, string) {
			p := filepath.Join(t.TempDir(), "rtm.db")
			return "sqlite://" + p, "sqlite", p
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			url, driver, dsn := open(t)
			store := mustOpen(t, url)
			drv := fakedriver.New(nil)
			drv.AddImage("engine:1", fakedriver.Behavior{})
			svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Snapshots: store,
				Leases: memory.NewLeases(time.Now), Driver: drv, Health: memory.NewHealthRecorder(),
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			meta := lifecycle.Meta{Source: core.SourceREST, SourceRef: "req"}
			for _, g := range []string{"gone", "garbled", "fine"} {
				if res, err := svc.Start.Handle(ctx, lifecycle.StartInput{GameID: g, ImageRef: "engine:1", Meta: meta}); err != nil || res.ErrorCode != "" {
					t.Fatalf("start %s: %+v, %v", g, res, err)
				}
			}
			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, "UPDATE runtime_records SET restart_state = 'not json', env = 'neither' WHERE game_id = 'garbled'"); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Get(ctx, "garbled"); err == nil {
				t.Fatal("the garbled record still decodes; the test corrupts nothing")
			}
			gone := mustGet(t, store, "gone")
			if err := drv.Remove(ctx, gone.ContainerID); err != nil {
				t.Fatal(err)
			}
			rep, err := svc.NewReconciler(time.Minute).Pass(ctx)
			if err != nil {
				t.Fatalf("pass over a database with one undecodable record: %v", err)
			}
			if rep.Records != 3 || rep.Containers != 2 || rep.Disappeared != 1 || rep.Failed+rep.Orphans != 0 {
				t.Errorf("report %+v, want 3 records, 2 containers, 1 disappeared, nothing failed or orphaned", rep)
			}
			if rec := mustGet(t, store, "gone"); rec.Status != core.StatusRemoved {
				t.Errorf("game whose container vanished: %s, want removed", rec.Status)
			}
			if rec := mustGet(t, store, "fine"); rec.Status != core.StatusRunning || rec.ContainerID == "" {
				t.Errorf("healthy game: %+v, want running on its container", rec)
			}
		})
	}
}
