package lifecycle_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// call is one top-level operation a property step runs.
type call struct {
	kind  core.OpKind
	game  string
	image string
	// policy is the restart_policy of a start (empty: the default, never).
	policy string
}

// opAutoRestart is the property test's name for AutoRestarter.RestartDue.
const opAutoRestart core.OpKind = "auto_restart"

// TestPropertyConcurrentOperations drives random batches of concurrent
// operations on a few games and checks after every batch: at most one live
// container per game, the record agrees with the driver, and every
// top-level operation wrote exactly one top-level audit entry with an
// outcome.
func TestPropertyConcurrentOperations(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(t)
		games := []string{"g1", "g2", "g3"}
		images := []string{imgA, imgB, imgDies}
		kinds := []core.OpKind{core.OpStart, core.OpStop, core.OpRestart, core.OpPatch, core.OpCleanup, core.OpReconcile, opAutoRestart}
		policies := []string{"", `{"mode":"always","max_restarts":2}`, `{"mode":"on_failure","max_restarts":1}`}
		steps := rapid.IntRange(1, 12).Draw(rt, "steps")
		for step := range steps {
			n := rapid.IntRange(1, 4).Draw(rt, "batch")
			batch := make([]call, n)
			for i := range batch {
				batch[i] = call{
					kind:   rapid.SampledFrom(kinds).Draw(rt, "kind"),
					game:   rapid.SampledFrom(games).Draw(rt, "game"),
					image:  rapid.SampledFrom(images).Draw(rt, "image"),
					policy: rapid.SampledFrom(policies).Draw(rt, "policy"),
				}
			}
			// Between batches (no lease is held): an engine crashes, and
			// time passes so pending restarts fall due.
			if rapid.Bool().Draw(rt, "crash") {
				var live []ports.Container
				for _, g := range games {
					live = append(live, w.live(g)...)
				}
				if len(live) > 0 {
					c := live[rapid.IntRange(0, len(live)-1).Draw(rt, "crashed")]
					if w.drv.Exit(c.ID, rapid.SampledFrom([]int{0, 1, 137}).Draw(rt, "code")) == nil {
						w.svc.NewMonitor(1).HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: c.ID, Labels: c.Labels})
					}
				}
			}
			if rapid.Bool().Draw(rt, "time passes") {
				w.clock.Advance(10 * time.Second)
			}
			if rapid.Bool().Draw(rt, "vanish") {
				cs := w.drv.Containers()
				if len(cs) > 0 {
					_ = w.drv.Vanish(cs[rapid.IntRange(0, len(cs)-1).Draw(rt, "victim")].ID)
				}
			}
			results := make([]lifecycle.Result, n)
			var wg sync.WaitGroup
			for i, c := range batch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = w.do(c)
				}()
			}
			wg.Wait()
			for i, c := range batch {
				if c.kind == core.OpReconcile || c.kind == opAutoRestart && (results[i].ErrorCode == core.CodeReplayNoOp || results[i].Busy) {
					continue // background work that found nothing to do leaves no trace
				}
				r := results[i]
				kind := c.kind
				if kind == opAutoRestart {
					kind = core.OpRestart
				}
				top := 0
				for _, e := range w.ops(c.game) {
					if e.CorrelationID == r.CorrelationID && e.OpKind == kind {
						top++
						if e.Outcome == "" || e.FinishedAt.IsZero() {
							rt.Fatalf("step %d: entry without outcome: %+v", step, e)
						}
					}
				}
				if top != 1 {
					rt.Fatalf("step %d: %s %s wrote %d top-level entries", step, c.kind, c.game, top)
				}
				if r.Outcome == core.OutcomeFailure && !r.Busy {
					switch r.ErrorCode {
					case core.CodeConflict, core.CodeNotFound, core.CodeStartFailed:
					default:
						rt.Fatalf("step %d: %s %s failed with %s: %s", step, c.kind, c.game, r.ErrorCode, r.ErrorMessage)
					}
				}
			}
			// A pass settles whatever a vanish left behind before checking.
			if _, err := w.svc.NewReconciler(0).Pass(w.ctx); err != nil {
				rt.Fatalf("reconcile: %v", err)
			}
			for _, g := range games {
				if err := w.consistent(g); err != nil {
					rt.Fatalf("step %d: game %s: %v", step, g, err)
				}
			}
		}
	})
}

func (w *world) do(c call) lifecycle.Result {
	ctx := w.ctx
	var r lifecycle.Result
	var err error
	switch c.kind {
	case core.OpStart:
		r, err = w.svc.Start.Handle(ctx, lifecycle.StartInput{GameID: c.game, ImageRef: c.image, RestartPolicy: []byte(c.policy), Meta: rest()})
	case opAutoRestart:
		r, err = w.svc.NewAutoRestarter().RestartDue(ctx, c.game)
	case core.OpStop:
		r, err = w.svc.Stop.Handle(ctx, lifecycle.StopInput{GameID: c.game, Reason: core.ReasonGameFinished, Meta: rest()})
	case core.OpRestart:
		r, err = w.svc.Restart.Handle(ctx, lifecycle.RestartInput{GameID: c.game, Meta: rest()})
	case core.OpPatch:
		r, err = w.svc.Patch.Handle(ctx, lifecycle.PatchInput{GameID: c.game, ImageRef: c.image, Meta: rest()})
	case core.OpCleanup:
		r, err = w.svc.Cleanup.Handle(ctx, lifecycle.CleanupInput{GameID: c.game, Meta: rest()})
	case core.OpReconcile:
		_, err = w.svc.NewReconciler(0).Pass(ctx)
	}
	if err != nil {
		panic(err)
	}
	return r
}

// consistent checks the invariants between a game's record and the driver.
func (w *world) consistent(game string) error {
	live := w.live(game)
	all := w.all(game)
	if len(live) > 1 {
		return fmt.Errorf("%d live containers", len(live))
	}
	rec, found := w.record(game)
	if !found {
		if len(all) != 0 {
			return fmt.Errorf("no record but containers %+v", all)
		}
		return nil
	}
	if rec.NextRestartAt != nil && (rec.Status != core.StatusStopped || rec.RestartPolicy.Mode == core.RestartNever) {
		return fmt.Errorf("pending restart on %+v", rec)
	}
	if rec.RestartCount > 0 && rec.RestartPolicy.Mode == core.RestartNever {
		return fmt.Errorf("restarted under never: %+v", rec)
	}
	switch rec.Status {
	case core.StatusRunning:
		if len(live) != 1 || live[0].ID != rec.ContainerID || live[0].Endpoint != rec.Endpoint {
			return fmt.Errorf("running record %+v, live %+v", rec, live)
		}
	case core.StatusStopped:
		if len(live) != 0 {
			return fmt.Errorf("stopped record but live %+v", live)
		}
	case core.StatusRemoved:
		if len(all) != 0 {
			return fmt.Errorf("removed record but containers %+v", all)
		}
	case core.StatusStarting:
		return fmt.Errorf("record left starting: %+v", rec)
	}
	for _, c := range all {
		if c.ID != rec.ContainerID {
			return fmt.Errorf("container %s (generation %s) is not the record's %s", c.ID, c.Labels[ports.LabelGeneration], rec.ContainerID)
		}
	}
	return nil
}
