//go:build e2e

package blackbox

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Starting states of the SPEC §2 transition table.
const (
	fromNone    = "none"
	fromRunning = "running"
	fromStopped = "stopped"
	fromRemoved = "removed"
)

// reach brings a fresh game into state from (on s.image) and returns its
// runtime (zero for none).
func reach(t *testing.T, s *suite, game, from string) runtimeView {
	t.Helper()
	if from == fromNone {
		return runtimeView{}
	}
	rt := mustOp(t, s.inst, game, "start", startBody(s.image, nil))
	if from == fromStopped || from == fromRemoved {
		rt = mustOp(t, s.inst, game, "stop", stopBody)
	}
	if from == fromRemoved {
		rt = mustOp(t, s.inst, game, "cleanup", nil)
	}
	if rt.Status != from && from != fromNone {
		t.Fatalf("setup: game %s is %s, want %s", game, rt.Status, from)
	}
	return rt
}

// cell is one cell of the transition table and what it must do.
type cell struct {
	from string
	op   string // start, start-other, stop, restart, patch, patch-same, cleanup
	// want: HTTP status and code (error_code of a success, error.code of a
	// failure) and the record afterwards ("" = no record).
	http   int
	code   string
	status string
	// newContainer: the op made a new container (generation+1); otherwise
	// the record keeps its container and generation.
	newContainer bool
	// image the record ends on: "image", "other" or "" (unchanged/none).
	image string
}

var table = []cell{
	{from: fromNone, op: "start", http: 200, status: "running", newContainer: true, image: "image"},
	{from: fromNone, op: "start-other", http: 200, status: "running", newContainer: true, image: "other"},
	{from: fromNone, op: "stop", http: 404, code: "not_found"},
	{from: fromNone, op: "restart", http: 404, code: "not_found"},
	{from: fromNone, op: "patch", http: 404, code: "not_found"},
	{from: fromNone, op: "cleanup", http: 404, code: "not_found"},

	{from: fromRunning, op: "start", http: 200, code: "replay_no_op", status: "running"},
	{from: fromRunning, op: "start-other", http: 409, code: "conflict", status: "running"},
	{from: fromRunning, op: "stop", http: 200, status: "stopped"},
	{from: fromRunning, op: "restart", http: 200, status: "running", newContainer: true, image: "image"},
	{from: fromRunning, op: "patch", http: 200, status: "running", newContainer: true, image: "other"},
	{from: fromRunning, op: "patch-same", http: 200, code: "replay_no_op", status: "running"},
	{from: fromRunning, op: "cleanup", http: 409, code: "conflict", status: "running"},

	{from: fromStopped, op: "start", http: 200, status: "running", newContainer: true, image: "image"},
	{from: fromStopped, op: "start-other", http: 200, status: "running", newContainer: true, image: "other"},
	{from: fromStopped, op: "stop", http: 200, code: "replay_no_op", status: "stopped"},
	{from: fromStopped, op: "restart", http: 200, status: "running", newContainer: true, image: "image"},
	{from: fromStopped, op: "patch", http: 200, status: "running", newContainer: true, image: "other"},
	{from: fromStopped, op: "cleanup", http: 200, status: "removed"},

	{from: fromRemoved, op: "start", http: 200, status: "running", newContainer: true, image: "image"},
	{from: fromRemoved, op: "start-other", http: 200, status: "running", newContainer: true, image: "other"},
	{from: fromRemoved, op: "stop", http: 200, code: "replay_no_op", status: "removed"},
	{from: fromRemoved, op: "restart", http: 409, code: "conflict", status: "removed"},
	{from: fromRemoved, op: "patch", http: 409, code: "conflict", status: "removed"},
	{from: fromRemoved, op: "cleanup", http: 200, code: "replay_no_op", status: "removed"},
}

// restCall maps a cell's op onto the REST operation and body.
func restCall(s *suite, c cell) (string, any) {
	switch c.op {
	case "start":
		return "start", startBody(s.image, nil)
	case "start-other":
		return "start", startBody(s.other, nil)
	case "stop":
		return "stop", stopBody
	case "patch":
		return "patch", map[string]any{"image_ref": s.other}
	case "patch-same":
		return "patch", map[string]any{"image_ref": s.image}
	}
	return c.op, nil
}

// testTransitionsREST runs every cell of the transition table through REST.
func testTransitionsREST(t *testing.T, s *suite) {
	for _, c := range table {
		t.Run(c.from+"/"+c.op, func(t *testing.T) {
			t.Parallel()
			g := s.game(t, "tr-"+c.from[:3])
			before := reach(t, s, g, c.from)
			kind, body := restCall(s, c)
			a := op(t, s.inst, g, kind, body)
			if a.HTTP != c.http || a.code() != c.code {
				t.Fatalf("%s = %s; want HTTP %d code %q", kind, a, c.http, c.code)
			}
			if a.HTTP == http.StatusOK {
				if a.Outcome != "success" {
					t.Fatalf("%s = %s; want outcome success", kind, a)
				}
			} else if a.Error.Message == "" {
				t.Errorf("%s = %s; the error has no message", kind, a)
			}
			checkAfter(t, s, g, c, before, a)
		})
	}
	t.Run("extra", func(t *testing.T) { testRESTValidation(t, s) })
}

// checkAfter checks the record and the containers after cell c ran on a
// game that was in before; a is the answer.
func checkAfter(t *testing.T, s *suite, g string, c cell, before runtimeView, a answer) {
	t.Helper()
	rt, found := getRuntime(t, s.inst, g)
	if !found {
		if c.status != "" {
			t.Fatalf("game %s has no record, want %s", g, c.status)
		}
		checkDocker(t, g, rt)
		return
	}
	if c.status == "" {
		t.Fatalf("game %s has record %+v, want none", g, rt)
	}
	if a.HTTP == http.StatusOK && (a.Runtime.Status != rt.Status || a.Runtime.ContainerID != rt.ContainerID ||
		a.Runtime.Generation != rt.Generation) {
		t.Errorf("answer runtime %+v differs from GET %+v", a.Runtime, rt)
	}
	if rt.Status != c.status || rt.GameID != g {
		t.Fatalf("record %+v; want status %s", rt, c.status)
	}
	wantImage := before.ImageRef
	switch c.image {
	case "image":
		wantImage = s.image
	case "other":
		wantImage = s.other
	}
	if rt.ImageRef != wantImage {
		t.Errorf("record image %q, want %q", rt.ImageRef, wantImage)
	}
	if c.newContainer {
		if rt.Generation != before.Generation+1 {
			t.Errorf("generation %d, want %d", rt.Generation, before.Generation+1)
		}
		if rt.ContainerID == "" || rt.ContainerID == before.ContainerID {
			t.Errorf("container %q, want a new one (was %q)", rt.ContainerID, before.ContainerID)
		}
	} else if rt.Generation != before.Generation || (c.status != "removed" && rt.ContainerID != before.ContainerID) {
		t.Errorf("record %+v moved from generation %d container %s", rt, before.Generation, before.ContainerID)
	}
	switch rt.Status {
	case "running":
		if rt.StartedAt == nil {
			t.Errorf("running record without started_at: %+v", rt)
		}
		checkEngine(t, rt)
	case "stopped":
		if rt.Endpoint != "" || rt.StoppedAt == nil {
			t.Errorf("stopped record %+v: want no endpoint and a stopped_at", rt)
		}
	case "removed":
		if rt.Endpoint != "" || rt.RemovedAt == nil {
			t.Errorf("removed record %+v: want no endpoint and a removed_at", rt)
		}
	}
	if rt.CreatedAt == nil || rt.LastOpAt == nil {
		t.Errorf("record %+v lacks created_at or last_op_at", rt)
	}
	checkDocker(t, g, rt)
}

// testRESTValidation checks the REST answers outside the table: invalid
// input, a forbidden transition's neighbours and a missing image.
func testRESTValidation(t *testing.T, s *suite) {
	for _, tc := range []struct {
		name, game, op string
		body           any
		http           int
		code           string
	}{
		{"bad game id", "Bad_Game!", "start", startBody(s.image, nil), 400, "invalid_request"},
		{"too long game id", fmt.Sprintf("g%070d", 0), "stop", stopBody, 400, "invalid_request"},
		{"no image", "", "start", map[string]any{}, 400, "invalid_request"},
		{"bad reason", "", "stop", map[string]any{"reason": "bored"}, 400, "invalid_request"},
		{"reserved env", "", "start", startBody(s.image, map[string]string{"GAME_ID": "x"}), 400, "invalid_request"},
		{"missing image", "", "start", startBody(missingImage, nil), 422, "image_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := tc.game
			if g == "" {
				g = s.game(t, "val")
			}
			a := op(t, s.inst, g, tc.op, tc.body)
			if a.HTTP != tc.http || a.code() != tc.code || a.Error.Message == "" {
				t.Fatalf("%s %s = %s; want HTTP %d code %s with a message", tc.op, g, a, tc.http, tc.code)
			}
			if tc.game == "" {
				if rt, ok := getRuntime(t, s.inst, g); ok {
					t.Fatalf("refused %s left a record %+v", tc.op, rt)
				}
				checkDocker(t, g, runtimeView{})
			}
		})
	}
	t.Run("request id and admin", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "src")
		mustOp(t, s.inst, g, "start", startBody(s.image, nil), "X-Request-Id", "req-"+g)
		mustOp(t, s.inst, g, "stop", stopBody, "X-Admin-User", "alice")
		ops := operations(t, s.inst, g)
		if len(ops) != 2 {
			t.Fatalf("operations = %+v, want 2", ops)
		}
		if o := ops[1]; o.OpKind != "start" || o.OpSource != "rest" || o.SourceRef != "req-"+g || o.Outcome != "success" {
			t.Errorf("start entry %+v; want rest, source_ref req-%s", o, g)
		}
		if o := ops[0]; o.OpKind != "stop" || o.OpSource != "admin" || o.SourceRef != "alice" || o.Outcome != "success" {
			t.Errorf("stop entry %+v; want admin, source_ref alice", o)
		}
	})
}

// streamCell is a start or stop job from one state.
type streamCell struct {
	from, op string // op: start, start-other, stop
	outcome  string
	code     string
	status   string // the record afterwards, "" = none
}

var streamTable = []streamCell{
	{fromNone, "start", "success", "", "running"},
	{fromRunning, "start", "success", "replay_no_op", "running"},
	{fromRunning, "start-other", "failure", "conflict", "running"},
	{fromStopped, "start", "success", "", "running"},
	{fromRemoved, "start", "success", "", "running"},
	{fromNone, "stop", "failure", "not_found", ""},
	{fromRunning, "stop", "success", "", "stopped"},
	{fromStopped, "stop", "success", "replay_no_op", "stopped"},
	{fromRemoved, "stop", "success", "replay_no_op", "removed"},
}

// testTransitionsStreams runs start and stop from every state through the
// job streams, plus malformed entries, and checks each job got exactly one
// result and was acked.
func testTransitionsStreams(t *testing.T, s *suite) {
	type job struct{ stream, id string }
	var (
		jobs = make(chan job, 64)
	)
	t.Cleanup(func() {
		close(jobs)
		if t.Failed() {
			return
		}
		pending := map[string]map[string]bool{streamStart: s.redis.pending(t, streamStart), streamStop: s.redis.pending(t, streamStop)}
		for j := range jobs {
			if n := len(s.redis.resultsOf(t, j.stream, j.id)); n != 1 {
				t.Errorf("job %s %s has %d results at the end, want exactly one", j.stream, j.id, n)
			}
			if pending[j.stream][j.id] {
				t.Errorf("job %s %s is still pending in group %s", j.stream, j.id, consumerGroup)
			}
		}
	})
	t.Run("jobs", func(t *testing.T) {
		for _, c := range streamTable {
			t.Run(c.from+"/"+c.op, func(t *testing.T) {
				t.Parallel()
				g := s.game(t, "st-"+c.from[:3])
				before := reach(t, s, g, c.from)
				var id, stream, kind string
				switch c.op {
				case "start", "start-other":
					img := s.image
					if c.op == "start-other" {
						img = s.other
					}
					stream, kind = streamStart, "start"
					id = s.redis.xadd(t, stream, "game_id", g, "image_ref", img, "env", `{"MODE":"ranked"}`)
				case "stop":
					stream, kind = streamStop, "stop"
					id = s.redis.xadd(t, stream, "game_id", g, "reason", "game_finished")
				}
				jobs <- job{stream, id}
				res := s.redis.awaitResult(t, stream, id)
				checkResult(t, res, stream, id, g, kind, c.outcome, c.code)
				rt, found := getRuntime(t, s.inst, g)
				if c.status == "" {
					if found {
						t.Fatalf("record %+v, want none", rt)
					}
					checkDocker(t, g, rt)
					return
				}
				if !found || rt.Status != c.status {
					t.Fatalf("record %+v (found %v), want %s", rt, found, c.status)
				}
				if c.outcome == "success" && res["container_id"] != rt.ContainerID {
					t.Errorf("result container_id %q, record has %q", res["container_id"], rt.ContainerID)
				}
				if rt.Status == "running" {
					if res["endpoint"] != rt.Endpoint && c.outcome == "success" {
						t.Errorf("result endpoint %q, record has %q", res["endpoint"], rt.Endpoint)
					}
					checkEngine(t, rt)
				}
				if c.code != "" && (rt.ContainerID != before.ContainerID || rt.Generation != before.Generation) {
					t.Errorf("%s moved the record from %+v to %+v", c.code, before, rt)
				}
				checkDocker(t, g, rt)
				if c.code == "" || c.code == "replay_no_op" {
					ops := operations(t, s.inst, g)
					if o := ops[0]; o.OpKind != kind || o.OpSource != "stream" || o.SourceRef != id {
						t.Errorf("newest operation %+v; want %s from stream with source_ref %s", o, kind, id)
					}
				}
				if c.from == fromNone && c.op == "start" {
					st, body := engineGet(rt.Endpoint, "/env")
					if st != 200 || !strings.Contains(body, `"MODE":"ranked"`) {
						t.Errorf("engine env %d %s lacks the job's env MODE=ranked", st, body)
					}
				}
			})
		}
	})
	t.Run("malformed", func(t *testing.T) {
		g := s.game(t, "mal")
		for _, m := range []struct {
			name, stream string
			kv           []string
		}{
			{"start without game_id", streamStart, []string{"image_ref", s.image}},
			{"start with a bad game_id", streamStart, []string{"game_id", "Not Valid", "image_ref", s.image}},
			{"start without image_ref", streamStart, []string{"game_id", g}},
			{"start with env not JSON", streamStart, []string{"game_id", g, "image_ref", s.image, "env", "MODE=ranked"}},
			{"start with env not strings", streamStart, []string{"game_id", g, "image_ref", s.image, "env", `{"N":1}`}},
			{"start with an unknown field", streamStart, []string{"game_id", g, "image_ref", s.image, "environment", "{}"}},
			{"stop without reason", streamStop, []string{"game_id", g}},
			{"stop with a bad reason", streamStop, []string{"game_id", g, "reason", "bored"}},
			{"stop without game_id", streamStop, []string{"reason", "admin_request"}},
		} {
			t.Run(m.name, func(t *testing.T) {
				id := s.redis.xadd(t, m.stream, m.kv...)
				jobs <- job{m.stream, id}
				res := s.redis.awaitResult(t, m.stream, id)
				kind := map[string]string{streamStart: "start", streamStop: "stop"}[m.stream]
				checkResult(t, res, m.stream, id, "", kind, "failure", "invalid_request")
			})
		}
		if rt, ok := getRuntime(t, s.inst, g); ok {
			t.Errorf("malformed jobs made a record %+v", rt)
		}
		checkDocker(t, g, runtimeView{})
	})
}

// checkResult checks one runtime:job_results entry against SPEC §4. game
// "" skips the game_id check (malformed entries may lack one).
func checkResult(t *testing.T, res map[string]string, stream, id, game, kind, outcome, code string) {
	t.Helper()
	for _, f := range []string{"job_stream", "job_id", "game_id", "op_kind", "outcome", "error_code",
		"error_message", "container_id", "endpoint", "finished_at"} {
		if _, ok := res[f]; !ok {
			t.Errorf("result %v lacks field %s", res, f)
		}
	}
	if res["job_stream"] != stream || res["job_id"] != id || res["op_kind"] != kind ||
		res["outcome"] != outcome || res["error_code"] != code || (game != "" && res["game_id"] != game) {
		t.Fatalf("result %v; want job %s %s, game %q, op_kind %s, outcome %s, error_code %q",
			res, stream, id, game, kind, outcome, code)
	}
	if outcome == "failure" && res["error_message"] == "" {
		t.Errorf("failure result %v has no error_message", res)
	}
	if _, err := time.Parse(time.RFC3339Nano, res["finished_at"]); err != nil {
		t.Errorf("result %v: finished_at: %v", res, err)
	}
	if kind == "start" && outcome == "success" && (res["container_id"] == "" || res["endpoint"] == "") {
		t.Errorf("start result %v lacks container_id or endpoint", res)
	}
}
