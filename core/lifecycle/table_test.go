package lifecycle_test

import (
	"fmt"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// TestTransitionTable drives every cell of the SPEC §2 table through the
// services and checks outcome, code, resulting status and containers.
func TestTransitionTable(t *testing.T) {
	type want struct {
		code   core.Code // "" success, replay_no_op, or a failure code
		status core.Status
	}
	ok := func(s core.Status) want { return want{"", s} }
	replayed := func(s core.Status) want { return want{core.CodeReplayNoOp, s} }
	fail := func(c core.Code, s core.Status) want { return want{c, s} }
	froms := []core.Status{"", core.StatusRunning, core.StatusStopped, core.StatusRemoved, core.StatusStarting}
	cells := map[string]map[core.Status]want{
		"start same image": {
			"": ok(core.StatusRunning), core.StatusRunning: replayed(core.StatusRunning),
			core.StatusStopped: ok(core.StatusRunning), core.StatusRemoved: ok(core.StatusRunning),
			core.StatusStarting: ok(core.StatusRunning)},
		"start other image": {
			"": ok(core.StatusRunning), core.StatusRunning: fail(core.CodeConflict, core.StatusRunning),
			core.StatusStopped: ok(core.StatusRunning), core.StatusRemoved: ok(core.StatusRunning),
			core.StatusStarting: ok(core.StatusRunning)},
		"stop": {
			"": fail(core.CodeNotFound, ""), core.StatusRunning: ok(core.StatusStopped),
			core.StatusStopped: replayed(core.StatusStopped), core.StatusRemoved: replayed(core.StatusRemoved),
			core.StatusStarting: ok(core.StatusRemoved)},
		"restart": {
			"": fail(core.CodeNotFound, ""), core.StatusRunning: ok(core.StatusRunning),
			core.StatusStopped: ok(core.StatusRunning), core.StatusRemoved: fail(core.CodeConflict, core.StatusRemoved),
			core.StatusStarting: fail(core.CodeConflict, core.StatusStarting)},
		"patch": {
			"": fail(core.CodeNotFound, ""), core.StatusRunning: ok(core.StatusRunning),
			core.StatusStopped: ok(core.StatusRunning), core.StatusRemoved: fail(core.CodeConflict, core.StatusRemoved),
			core.StatusStarting: fail(core.CodeConflict, core.StatusStarting)},
		"patch same image": {
			"": fail(core.CodeNotFound, ""), core.StatusRunning: replayed(core.StatusRunning),
			core.StatusStopped: ok(core.StatusRunning), core.StatusRemoved: fail(core.CodeConflict, core.StatusRemoved),
			core.StatusStarting: fail(core.CodeConflict, core.StatusStarting)},
		"cleanup": {
			"": fail(core.CodeNotFound, ""), core.StatusRunning: fail(core.CodeConflict, core.StatusRunning),
			core.StatusStopped: ok(core.StatusRemoved), core.StatusRemoved: replayed(core.StatusRemoved),
			core.StatusStarting: ok(core.StatusRemoved)},
	}
	for op, row := range cells {
		for _, from := range froms {
			t.Run(fmt.Sprintf("%s/from=%q", op, from), func(t *testing.T) {
				w := newWorld(t)
				const g = "g1"
				w.seed(g, from)
				before, _ := w.record(g)
				var r = map[string]func() lifecycle.Result{
					"start same image":  func() lifecycle.Result { return w.start(g, imgA) },
					"start other image": func() lifecycle.Result { return w.start(g, imgB) },
					"stop":              func() lifecycle.Result { return w.stop(g) },
					"restart":           func() lifecycle.Result { return w.restart(g) },
					"patch":             func() lifecycle.Result { return w.patch(g, imgB) },
					"patch same image":  func() lifecycle.Result { return w.patch(g, imgA) },
					"cleanup":           func() lifecycle.Result { return w.cleanup(g) },
				}[op]()
				want := row[from]
				if want.code.Success() {
					w.expectOK(r, want.code)
				} else {
					w.expectFail(r, want.code)
				}
				after := w.expectStatus(g, want.status)
				switch {
				case want.code != "" && after.Generation != before.Generation:
					t.Errorf("a %s changed the generation %d → %d", want.code, before.Generation, after.Generation)
				case want.code == "" && want.status == core.StatusRunning && after.Generation != before.Generation+1:
					t.Errorf("a new container must bump the generation: %d → %d", before.Generation, after.Generation)
				}
				live := w.live(g)
				if want.status == core.StatusRunning {
					if len(live) != 1 || live[0].ID != after.ContainerID || after.Endpoint != live[0].Endpoint {
						t.Errorf("running record %+v, live containers %+v", after, live)
					}
				} else if from != core.StatusStarting && len(live) != 0 {
					t.Errorf("status %s but %d live containers", want.status, len(live))
				}
				if want.status == core.StatusRemoved && len(w.all(g)) != 0 {
					t.Errorf("removed runtime still has containers: %+v", w.all(g))
				}
			})
		}
	}
}
