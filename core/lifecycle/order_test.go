package lifecycle_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// stream returns the Meta of the stream job with entry id id.
func stream(t *testing.T, id string) lifecycle.Meta {
	t.Helper()
	seq, err := core.ParseJobSeq(id)
	if err != nil {
		t.Fatal(err)
	}
	return lifecycle.Meta{Source: core.SourceStream, SourceRef: id, Seq: seq}
}

func (w *world) streamStart(game, id string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: game, ImageRef: imgA, Meta: stream(w.t, id)}))
}

func (w *world) streamStop(game, id string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Stop.Handle(w.ctx, lifecycle.StopInput{GameID: game, Reason: core.ReasonGameFinished,
		Meta: stream(w.t, id)}))
}

func TestOlderStreamJobIsSuperseded(t *testing.T) {
	w := newWorld(t)
	w.expectOK(w.streamStart("g", "100-0"), "")
	w.expectOK(w.streamStop("g", "200-0"), "")
	// The start of 100-0 again (redelivered) or any older start comes late.
	for _, id := range []string{"100-0", "150-3"} {
		r := w.streamStart("g", id)
		w.expectFail(r, core.CodeConflict)
		if !strings.Contains(r.ErrorMessage, "newer stream job 200-0") || r.Busy {
			t.Errorf("late start %s = %+v, want a superseded conflict naming 200-0", id, r)
		}
	}
	w.expectStatus("g", core.StatusStopped)
	// A newer job applies; REST operations are never ordered by Seq.
	w.expectOK(w.streamStart("g", "300-0"), "")
	w.expectOK(w.stop("g"), "")
	w.expectOK(w.start("g", imgA), "")
	w.expectStatus("g", core.StatusRunning)
	// Every refusal is audited like any other outcome.
	n := 0
	for _, op := range w.ops("g") {
		if op.ErrorCode == core.CodeConflict && op.OpSource == core.SourceStream {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d superseded conflicts in the operation log, want 2", n)
	}
}

func TestStreamJobsWithTheSameIDRunStartFirst(t *testing.T) {
	w := newWorld(t)
	// A start and a stop added in the same millisecond share an id: the
	// start counts as older.
	w.expectOK(w.streamStart("g", "100-0"), "")
	w.expectOK(w.streamStop("g", "100-0"), "")
	w.expectFail(w.streamStart("g", "100-0"), core.CodeConflict)
	w.expectStatus("g", core.StatusStopped)
}

func TestUndecidedNewerJobDoesNotSupersede(t *testing.T) {
	w := newWorld(t)
	w.expectOK(w.streamStart("g", "100-0"), "")
	// A newer stop that met an outage decided nothing.
	w.store.FailNext(memory.MethodGet, errDown)
	w.expectFail(w.streamStop("g", "200-0"), core.CodeServiceUnavailable)
	w.expectOK(w.streamStart("g", "100-0"), core.CodeReplayNoOp)
}

func TestUnreadableOperationLogAppliesTheJob(t *testing.T) {
	w := newWorld(t)
	w.expectOK(w.streamStart("g", "100-0"), "")
	w.expectOK(w.streamStop("g", "200-0"), "")
	// The log is best-effort: when it cannot be read the job is applied.
	w.store.FailNext(memory.MethodListOperations, errDown)
	w.expectOK(w.streamStart("g", "100-0"), "")
	w.expectStatus("g", core.StatusRunning)
}
