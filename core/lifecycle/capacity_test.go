package lifecycle_test

import (
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// TestMaxRuntimesEdges: the ceiling counts starting records too, is
// inclusive, and a store failure while checking or reserving is
// service_unavailable (not a busy capacity refusal) that leaves the game
// as it was.
func TestMaxRuntimesEdges(t *testing.T) {
	capped := func(t *testing.T, n int) *world {
		return newWorld(t, func(d *lifecycle.Deps) { d.Config.MaxRuntimes = n })
	}
	t.Run("a starting record takes a slot", func(t *testing.T) {
		w := capped(t, 1)
		w.seed("pending", core.StatusStarting)
		w.expectRefused("g")
	})
	t.Run("the last slot is usable", func(t *testing.T) {
		w := capped(t, 2)
		w.expectOK(w.start("g1", imgA), "")
		w.expectOK(w.start("g2", imgA), "")
		w.expectRefused("g3")
	})
	t.Run("removed and stopped games take no slot", func(t *testing.T) {
		w := capped(t, 1)
		w.seed("stopped", core.StatusStopped)
		w.seed("removed", core.StatusRemoved)
		w.expectOK(w.start("g", imgA), "")
	})
	t.Run("counting fails", func(t *testing.T) {
		w := capped(t, 1)
		w.seed("g", core.StatusStopped)
		kept := w.expectStatus("g", core.StatusStopped)
		w.store.FailNext(memory.MethodCountByStatus, errDown)
		res := w.start("g", imgA)
		w.expectFail(res, core.CodeServiceUnavailable)
		if res.Busy {
			t.Error("a store outage was marked busy")
		}
		if rec := w.expectStatus("g", core.StatusStopped); rec.ContainerID != kept.ContainerID {
			t.Errorf("record %+v, want the stopped one kept", rec)
		}
	})
	t.Run("reserving a new game fails", func(t *testing.T) {
		w := capped(t, 1)
		w.store.FailNext(memory.MethodReserve, errDown)
		w.expectFail(w.start("g", imgA), core.CodeServiceUnavailable)
		w.expectStatus("g", "")
		if n := len(w.all("g")); n != 0 {
			t.Errorf("%d containers after a failed reservation, want 0", n)
		}
	})
	t.Run("reserving a stopped game fails", func(t *testing.T) {
		w := capped(t, 1)
		w.seed("g", core.StatusStopped)
		w.store.FailNext(memory.MethodReserve, errDown)
		w.expectFail(w.start("g", imgA), core.CodeServiceUnavailable)
		w.expectStatus("g", core.StatusStopped)
		if n := len(w.live("g")); n != 0 {
			t.Errorf("%d live containers after a failed reservation, want 0", n)
		}
	})
	t.Run("creating a record without a ceiling fails", func(t *testing.T) {
		w := newWorld(t)
		w.store.FailNext(memory.MethodCreate, errDown)
		w.expectFail(w.start("g", imgA), core.CodeServiceUnavailable)
		w.expectStatus("g", "")
	})
}

// TestNewRejectsBadConfig: each invalid setting is refused by New with an
// error naming it, instead of being replaced by a default.
func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*lifecycle.Config)
		want string
	}{
		{"negative start timeout", func(c *lifecycle.Config) { c.StartTimeout = -time.Second }, "StartTimeout"},
		{"negative lease ttl", func(c *lifecycle.Config) { c.LeaseTTL = -time.Second }, "LeaseTTL"},
		{"negative pull timeout", func(c *lifecycle.Config) { c.PullTimeout = -time.Second }, "PullTimeout"},
		{"negative engine port", func(c *lifecycle.Config) { c.EnginePort = -1 }, "engine port"},
		{"unknown pull policy", func(c *lifecycle.Config) { c.PullPolicy = "sometimes" }, "pull policy"},
		{"bad scope", func(c *lifecycle.Config) { c.Scope = "Blue Team" }, "scope"},
		{"negative max inflight", func(c *lifecycle.Config) { c.MaxInflight = -1 }, "MaxInflight"},
		{"negative max runtimes", func(c *lifecycle.Config) { c.MaxRuntimes = -1 }, "MaxRuntimes"},
		{"unknown default restart mode", func(c *lifecycle.Config) {
			c.Restart.Default = core.RestartPolicy{Mode: "sometimes", MaxRestarts: 1, Window: time.Minute}
		}, "restart_policy.mode"},
		{"default restart window too short", func(c *lifecycle.Config) {
			c.Restart.Default = core.RestartPolicy{Mode: core.RestartAlways, MaxRestarts: 1, Window: time.Millisecond}
		}, "restart_policy.window"},
		{"backoff above its maximum", func(c *lifecycle.Config) {
			c.Restart.Backoff = core.Backoff{Base: time.Hour, Max: time.Minute}
		}, "backoff"},
		{"negative backoff", func(c *lifecycle.Config) { c.Restart.Backoff.Base = -time.Second }, "backoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := lifecycle.Deps{Records: memory.NewStore(), Operations: memory.NewStore(), Leases: memory.NewLeases(nil),
				Driver: fakedriver.New(nil), Health: memory.NewHealthRecorder(), Snapshots: memory.NewStore()}
			tc.edit(&d.Config)
			svc, err := lifecycle.New(d)
			if err == nil || svc != nil {
				t.Fatalf("New = %v, %v; want an error", svc, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error %q does not name %s", err, tc.want)
			}
		})
	}
}
