package ingress_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/core"
)

func TestStartThenStop(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil)
		e.start()
		startID := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image, "env", `{"MODE":"ranked"}`)
		r := e.waitResults(1)[startID]
		if r["outcome"] != "success" || r["error_code"] != "" || r["op_kind"] != "start" ||
			r["game_id"] != "g1" || r["job_stream"] != e.streams.StartJobs ||
			r["container_id"] == "" || r["endpoint"] == "" || r["finished_at"] == "" {
			t.Fatalf("start result = %v", r)
		}
		if _, err := time.Parse(time.RFC3339Nano, r["finished_at"]); err != nil {
			t.Errorf("finished_at: %v", err)
		}
		rec, err := e.store.Get(e.ctx, "g1")
		if err != nil || rec.Status != core.StatusRunning || rec.Env["MODE"] != "ranked" {
			t.Fatalf("record after start = %+v, %v", rec, err)
		}

		stopID := e.add(e.streams.StopJobs, "game_id", "g1", "reason", "game_finished")
		r = e.waitResults(2)[stopID]
		if r["outcome"] != "success" || r["error_code"] != "" || r["op_kind"] != "stop" {
			t.Fatalf("stop result = %v", r)
		}
		if rec, _ := e.store.Get(e.ctx, "g1"); rec.Status != core.StatusStopped {
			t.Fatalf("record after stop = %+v", rec)
		}
		ops := e.store.Operations()
		if len(ops) != 2 || ops[0].OpSource != core.SourceStream || !strings.HasSuffix(startID, " "+ops[0].SourceRef) {
			t.Errorf("operation log = %+v", ops)
		}
		e.finish(2)
	})
}

func TestMalformedEntries(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil)
		s, p := e.streams.StartJobs, e.streams.StopJobs
		long := strings.Repeat("a", 2000)
		cases := []struct {
			name   string
			stream string
			kv     []string
			msg    string
		}{
			{"start missing game_id", s, []string{"image_ref", image}, "missing field game_id"},
			{"start missing image_ref", s, []string{"game_id", "g1"}, "missing field image_ref"},
			{"start empty image_ref", s, []string{"game_id", "g1", "image_ref", ""}, "image_ref must not be empty"},
			{"bad game_id", s, []string{"game_id", "G 1", "image_ref", image}, "game_id"},
			{"oversized image_ref", s, []string{"game_id", "g1", "image_ref", long}, "image_ref is 2000 bytes"},
			{"unknown field", s, []string{"game_id", "g1", "image_ref", image, "environment", "{}"}, `unknown field(s) "environment"`},
			{"env not JSON", s, []string{"game_id", "g1", "image_ref", image, "env", "A=1"}, "env: not JSON"},
			{"env array", s, []string{"game_id", "g1", "image_ref", image, "env", `["A"]`}, "must be a JSON object"},
			{"env number value", s, []string{"game_id", "g1", "image_ref", image, "env", `{"A":1}`}, "must be a string, not a number"},
			{"env nested value", s, []string{"game_id", "g1", "image_ref", image, "env", `{"A":{"B":"c"}}`}, "not an object"},
			{"env reserved name", s, []string{"game_id", "g1", "image_ref", image, "env", `{"PORT":"1"}`}, "set by rtmanager"},
			{"env oversized", s, []string{"game_id", "g1", "image_ref", image, "env", `{"A":"` + strings.Repeat("x", ingress.MaxEnvBytes) + `"}`}, "field env is"},
			{"stop missing reason", p, []string{"game_id", "g1"}, "missing field reason"},
			{"stop unknown reason", p, []string{"game_id", "g1", "reason", "bored"}, `unknown stop reason "bored"`},
			{"stop extra field", p, []string{"game_id", "g1", "reason", "shutdown", "image_ref", image}, "unknown field"},
		}
		ids := map[string]string{}
		for _, c := range cases {
			ids[c.name] = e.add(c.stream, c.kv...)
		}
		e.start()
		got := e.waitResults(len(cases))
		for _, c := range cases {
			r := got[ids[c.name]]
			if r["outcome"] != "failure" || r["error_code"] != "invalid_request" ||
				!strings.Contains(r["error_message"], c.msg) {
				t.Errorf("%s: result = %v, want invalid_request containing %q", c.name, r, c.msg)
			}
		}
		if n := e.driver.Calls("Start"); n != 0 {
			t.Errorf("driver Start called %d times for malformed jobs", n)
		}
		e.finish(len(cases))
	})
}

func TestLeaseHeldThenReleased(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil)
		if ok, err := e.leases.TryAcquire(e.ctx, "g1", "someone-else", time.Minute); !ok || err != nil {
			t.Fatalf("TryAcquire = %v, %v", ok, err)
		}
		before := e.leases.tries.Load()
		e.start()
		id := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		// Wait until the job has met the held lease at least twice.
		e.waitFor("conflict retries", func() bool { return e.leases.tries.Load()-before >= 2 })
		for _, op := range e.store.Operations() {
			if op.ErrorCode == core.CodeConflict {
				t.Errorf("a busy attempt that is retried left an audit entry: %+v", op)
			}
		}
		if rs := e.results(); len(rs) != 0 {
			t.Fatalf("a busy job got a result before its retries ran out: %v", rs)
		}
		if err := e.leases.Release(e.ctx, "g1", "someone-else"); err != nil {
			t.Fatal(err)
		}
		r := e.waitResults(1)[id]
		if r["outcome"] != "success" || r["error_code"] != "" {
			t.Fatalf("result = %v, want success", r)
		}
		e.finish(1)
	})
}

func TestLeaseHeldPastConflictRetry(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, func(c *ingress.Config) { c.ConflictRetry = 300 * time.Millisecond })
		if ok, err := e.leases.TryAcquire(e.ctx, "g1", "someone-else", time.Minute); !ok || err != nil {
			t.Fatalf("TryAcquire = %v, %v", ok, err)
		}
		e.start()
		began := time.Now()
		id := e.add(e.streams.StopJobs, "game_id", "g1", "reason", "admin_request")
		r := e.waitResults(1)[id]
		if r["outcome"] != "failure" || r["error_code"] != "conflict" ||
			!strings.Contains(r["error_message"], "another operation is in progress") {
			t.Fatalf("result = %v, want a busy conflict", r)
		}
		if d := time.Since(began); d < 300*time.Millisecond {
			t.Errorf("conflict result after %s, before ConflictRetry", d)
		}
		var entries []core.OperationEntry
		for _, op := range e.store.Operations() {
			if op.GameID == "g1" {
				entries = append(entries, op)
			}
		}
		if len(entries) != 1 || entries[0].ErrorCode != core.CodeConflict || e.leases.tries.Load() < 2 {
			t.Errorf("audit = %+v after %d attempts, want exactly the last attempt's conflict", entries, e.leases.tries.Load())
		}
		e.finish(1)
	})
}

func TestTransitionConflictIsNotRetried(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil) // ConflictRetry 10s: a retry would show
		e.driver.AddImage("engine:2", fakedriver.Behavior{})
		e.start()
		e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		e.waitResults(1)
		began := time.Now()
		id := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", "engine:2")
		r := e.waitResults(2)[id]
		if r["error_code"] != "conflict" || time.Since(began) > 5*time.Second {
			t.Fatalf("result = %v after %s, want an immediate conflict", r, time.Since(began))
		}
		e.finish(2)
	})
}

func TestRedeliveredJobReplays(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e, _ := newLossyEnv(t, url, 0)
		e.start()
		id := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		r := e.waitResults(1)[id]
		if r["outcome"] != "success" || r["error_code"] != "replay_no_op" {
			t.Fatalf("result = %v, want the replay of a redelivered job", r)
		}
		var starts []core.OperationEntry
		for _, op := range e.store.Operations() {
			if op.OpKind == core.OpStart && strings.HasSuffix(id, " "+op.SourceRef) {
				starts = append(starts, op)
			}
		}
		if len(starts) != 2 || starts[0].ErrorCode != "" || starts[1].ErrorCode != core.CodeReplayNoOp {
			t.Errorf("start operations of job %s = %+v, want success then replay", id, starts)
		}
		if n := e.driver.Calls("Start"); n != 1 {
			t.Errorf("driver Start called %d times, want 1", n)
		}
		e.finish(1)
	})
}

// TestSupersededRedeliveryIsDropped: a start job left pending (its result
// could not be written) and redelivered after a newer stop job of the same
// game was handled must not start the game again.
func TestSupersededRedeliveryIsDropped(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e, fq := newLossyEnv(t, url, time.Second)
		e.start()
		startID := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		e.waitFor("the start to run", func() bool { return e.driver.Calls("Start") == 1 && fq.failures.Load() == 0 })
		stopID := e.add(e.streams.StopJobs, "game_id", "g1", "reason", "game_finished")
		got := e.waitResults(2)
		if got[stopID]["outcome"] != "success" {
			t.Fatalf("stop result = %v", got[stopID])
		}
		if r := got[startID]; r["error_code"] != "conflict" || !strings.Contains(r["error_message"], "newer stream job") {
			t.Fatalf("redelivered start = %v, want a superseded conflict", r)
		}
		if rec, err := e.store.Get(e.ctx, "g1"); err != nil || rec.Status != core.StatusStopped {
			t.Errorf("game after the stale start = %+v, %v; want stopped", rec, err)
		}
		if n := e.driver.Calls("Start"); n != 1 {
			t.Errorf("driver Start called %d times, want 1", n)
		}
		e.finish(2)
	})
}

func TestJobsOfOneGameKeepStreamOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil)
		// Both entries are read in one batch; the stop must not overtake.
		startID := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		stopID := e.add(e.streams.StopJobs, "game_id", "g1", "reason", "game_cancelled")
		e.start()
		got := e.waitResults(2)
		if got[startID]["error_code"] != "" || got[stopID]["error_code"] != "" {
			t.Fatalf("results = %v, want start then stop to succeed", got)
		}
		if rec, _ := e.store.Get(e.ctx, "g1"); rec.Status != core.StatusStopped {
			t.Fatalf("record = %+v, want stopped", rec)
		}
		e.finish(2)
	})
}

func TestGracefulStopFinishesRunningJob(t *testing.T) {
	e := newEnv(t, backends[0].url(t), nil)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	svc, _ := newBlockingServices(t, e, entered, release)
	e.cfg.Services = svc
	e.start()
	id := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
	select {
	case <-entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the job never reached the driver")
	}
	stopped := make(chan struct{})
	go func() {
		e.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Run returned while a job was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-stopped
	r := e.finish(1)[id]
	if r["outcome"] != "success" {
		t.Fatalf("result = %v, want the running job finished", r)
	}
}

func TestStopGraceLeavesJobPending(t *testing.T) {
	const claimIdle = time.Second
	e := newEnv(t, backends[0].url(t), func(c *ingress.Config) {
		// The heartbeat touches every third of ClaimIdle, so a touch may be
		// late by two thirds of it before the job goes idle. 400 ms left
		// 267 ms, which a loaded 2-core machine once exceeded (a second
		// delivery); 1 s leaves 667 ms.
		c.ClaimIdle, c.StopGrace = claimIdle, 100*time.Millisecond
	})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	svc, calls := newBlockingServices(t, e, entered, release)
	e.cfg.Services = svc
	e.start()
	key := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
	select {
	case <-entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the job never reached the driver")
	}
	// The heartbeat keeps the running job from going idle, so no claim
	// (this worker's or another's) picks it up for 2.5 × ClaimIdle; without
	// it the claim that runs every ClaimIdle/2 takes the job within
	// 1.5 × ClaimIdle of its delivery.
	for end := time.Now().Add(claimIdle * 5 / 2); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if d := e.deliveries(key); d != 1 {
			t.Fatalf("the running job was delivered %d times, want 1 (heartbeat)", d)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("driver Start called %d times, want 1", n)
	}
	e.stop() // the job outlives StopGrace and is cancelled
	if rs := e.results(); len(rs) != 0 {
		t.Fatalf("a cancelled job got a result: %v", rs)
	}
	if e.deliveries(key) == 0 {
		t.Fatal("the cancelled job is no longer pending")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := ingress.New(ingress.Config{}); err == nil {
		t.Error("New accepted a config without a queue")
	}
	e := newEnv(t, backends[0].url(t), nil)
	bad := e.cfg
	bad.ClaimIdle = -time.Second
	if _, err := ingress.New(bad); err == nil {
		t.Error("New accepted a negative ClaimIdle")
	}
	var nilCtx context.Context
	w, err := ingress.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(nilCtx); err == nil {
		t.Error("Run accepted a nil context")
	}
}
