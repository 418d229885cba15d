package queuetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// testCompleteMany: one batch completes jobs of both streams, in order,
// each with its own result; a job of the batch already completed, and a
// job listed twice, get no second result; nothing stays pending and the
// job entries are gone.
func testCompleteMany(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	bc := testenv.Capability[ports.BatchCompleter](t, q)
	f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	f.Add(f.StopStream, map[string]string{"game_id": "g2", "reason": "admin_request"})
	f.Add(f.StartStream, map[string]string{"game_id": "g3", "image_ref": "e:1"})
	jobs := MustRead(t, q, 3)
	games := map[string]string{}
	for _, j := range jobs {
		games[key(j.Stream, j.ID)] = j.Fields["game_id"]
	}
	done := jobs[0]
	mustComplete(t, q, done, result(done, games[key(done.Stream, done.ID)]))
	var cs []ports.Completion
	for _, j := range append(jobs, jobs[1]) {
		r := result(j, games[key(j.Stream, j.ID)])
		if j.Stream == f.StopStream {
			r.OpKind, r.Outcome, r.ErrorCode = core.OpStop, core.OutcomeFailure, core.CodeNotFound
		}
		cs = append(cs, ports.Completion{Job: j, Result: r})
	}
	if err := bc.CompleteMany(ctxT(t), cs); err != nil {
		t.Fatalf("CompleteMany: %v", err)
	}
	for _, j := range jobs {
		rs := resultsFor(f, j.Stream, j.ID)
		if len(rs) != 1 {
			t.Fatalf("%d results for job %s %s, want 1", len(rs), j.Stream, j.ID)
		}
		if rs[0]["game_id"] != games[key(j.Stream, j.ID)] {
			t.Fatalf("result of job %s names game %q, want %q", j.ID, rs[0]["game_id"], games[key(j.Stream, j.ID)])
		}
		if j.Stream == f.StopStream && rs[0]["error_code"] != string(core.CodeNotFound) {
			t.Fatalf("result of the stop job: %v", rs[0])
		}
	}
	if n := len(f.Results()); n != 3 {
		t.Fatalf("%d results, want 3", n)
	}
	mustPending(t, f, q, 0, 0)
	if ids := append(f.IDs(f.StartStream), f.IDs(f.StopStream)...); len(ids) != 0 {
		t.Fatalf("job entries left after CompleteMany: %v", ids)
	}
}

// testCompleteManyInvalid: a batch with a result naming another job is
// refused whole.
func testCompleteManyInvalid(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	bc := testenv.Capability[ports.BatchCompleter](t, q)
	f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	f.Add(f.StartStream, map[string]string{"game_id": "g2", "image_ref": "e:1"})
	jobs := MustRead(t, q, 2)
	bad := result(jobs[1], "g2")
	bad.JobID = jobs[0].ID
	err := bc.CompleteMany(ctxT(t), []ports.Completion{{Job: jobs[0], Result: result(jobs[0], "g1")}, {Job: jobs[1], Result: bad}})
	if err == nil {
		t.Fatal("CompleteMany with a mismatched result: no error")
	}
	if n := len(f.Results()); n != 0 {
		t.Fatalf("a refused batch wrote %d results", n)
	}
	mustPending(t, f, q, 2, 0)
}
