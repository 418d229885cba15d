package sqlstore_test

import (
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestRemovedKeepsNoEnv: a record moved to removed (core.Record.Removed,
// the one place every removal goes through) is stored without its job env
// on both databases, while a stopped record keeps it for a later start.
func TestRemovedKeepsNoEnv(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s, ctx := open(t), t.Context()
			now := time.Now()
			rec := core.Record{GameID: "gone"}.Starting("engine:1", map[string]string{"API_SECRET": "hunter2"}, now)
			if err := s.Create(ctx, rec); err != nil {
				t.Fatalf("Create: %v", err)
			}
			run := rec.Running("c1", "127.0.0.1:1", now)
			stopped := run.Stopped(now)
			for _, step := range []struct{ from, to core.Record }{{rec, run}, {run, stopped}} {
				if err := s.Swap(ctx, ports.ExpectOf(step.from), step.to); err != nil {
					t.Fatalf("Swap to %s: %v", step.to.Status, err)
				}
			}
			if got := mustGet(t, s, rec.GameID); got.Env["API_SECRET"] != "hunter2" {
				t.Fatalf("a stopped record must keep its env for restart: %v", got.Env)
			}
			if err := s.Swap(ctx, ports.ExpectOf(stopped), stopped.Removed(now)); err != nil {
				t.Fatalf("Swap to removed: %v", err)
			}
			if got := mustGet(t, s, rec.GameID); got.Env != nil {
				t.Errorf("removed record keeps env %v", got.Env)
			}
		})
	}
}
