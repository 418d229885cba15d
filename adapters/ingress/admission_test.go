package ingress_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// admissionServices builds the services of e with an allow-list and a
// runtime ceiling of one.
func admissionServices(t *testing.T, e *env) *lifecycle.Services {
	t.Helper()
	svc, err := lifecycle.New(lifecycle.Deps{Records: e.store, Operations: e.store, Leases: e.leases,
		Driver: e.driver, Health: memory.NewHealthRecorder(), Snapshots: e.store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: lifecycle.Config{StartTimeout: 5 * time.Second, StopTimeout: time.Second,
			Allow: core.MustParseImageAllow("engine:*"), MaxRuntimes: 1}})
	if err != nil {
		t.Fatalf("lifecycle.New: %v", err)
	}
	return svc
}

// TestAdmissionRulesOnStreams: start jobs meet the same image, env and
// capacity rules as REST, and get their codes as results: a hostile image
// is invalid_request, an image outside the allow-list forbidden, a denied
// env name invalid_request; a job over RTMANAGER_MAX_RUNTIMES is retried
// like a held lease, quietly, and succeeds once a slot frees.
func TestAdmissionRulesOnStreams(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil) // ConflictRetry 10s
		e.cfg.Services = admissionServices(t, e)
		e.start()
		first := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		if r := e.waitResults(1)[first]; r["outcome"] != "success" {
			t.Fatalf("first start = %v", r)
		}
		bad := map[string]string{
			e.add(e.streams.StartJobs, "game_id", "g2", "image_ref", "engine/../../bin/sh"):                  "invalid_request",
			e.add(e.streams.StartJobs, "game_id", "g3", "image_ref", "file:///opt/engine/../x"):              "invalid_request",
			e.add(e.streams.StartJobs, "game_id", "g4", "image_ref", "evil/engine:1"):                        "forbidden",
			e.add(e.streams.StartJobs, "game_id", "g5", "image_ref", image, "env", `{"LD_PRELOAD":"/x.so"}`): "invalid_request",
			e.add(e.streams.StartJobs, "game_id", "g6", "image_ref", image, "env", `{"BASH_ENV":"/x"}`):      "invalid_request",
			e.add(e.streams.StartJobs, "game_id", "g7", "image_ref", image, "env", `{"path":"/x"}`):          "invalid_request",
		}
		rs := e.waitResults(1 + len(bad))
		for id, code := range bad {
			if r := rs[id]; r["outcome"] != "failure" || r["error_code"] != code {
				t.Errorf("job %s result = %v, want %s", id, r, code)
			}
		}
		before := e.leases.tries.Load()
		over := e.add(e.streams.StartJobs, "game_id", "g8", "image_ref", image)
		e.waitFor("capacity retries", func() bool { return e.leases.tries.Load()-before >= 2 })
		for _, r := range e.results() {
			if r["job_stream"]+" "+r["job_id"] == over {
				t.Fatalf("a job over capacity got its result before its retries ran out: %v", r)
			}
		}
		for _, op := range e.store.Operations() {
			if op.ErrorCode == core.CodeCapacityExceeded {
				t.Errorf("a retried capacity_exceeded attempt left an audit entry: %+v", op)
			}
		}
		stop := e.add(e.streams.StopJobs, "game_id", "g1", "reason", "admin_request")
		rs = e.waitResults(len(bad) + 3)
		if r := rs[stop]; r["outcome"] != "success" {
			t.Fatalf("stop = %v", r)
		}
		if r := rs[over]; r["outcome"] != "success" || r["error_code"] != "" {
			t.Fatalf("start over capacity = %v, want success once g1 stopped", r)
		}
		e.finish(len(bad) + 3)
	})
}

// TestCapacityPastConflictRetry: a job that stays over capacity gets a
// capacity_exceeded result after ConflictRetry, with one audit entry.
func TestCapacityPastConflictRetry(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, nil)
		e.cfg.ConflictRetry = 300 * time.Millisecond
		e.cfg.Services = admissionServices(t, e)
		e.start()
		first := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		if r := e.waitResults(1)[first]; r["outcome"] != "success" {
			t.Fatalf("first start = %v", r)
		}
		over := e.add(e.streams.StartJobs, "game_id", "g2", "image_ref", image)
		if r := e.waitResults(2)[over]; r["outcome"] != "failure" || r["error_code"] != "capacity_exceeded" {
			t.Fatalf("result = %v, want capacity_exceeded", r)
		}
		var entries []core.OperationEntry
		for _, op := range e.store.Operations() {
			if op.GameID == "g2" {
				entries = append(entries, op)
			}
		}
		if len(entries) != 1 || entries[0].ErrorCode != core.CodeCapacityExceeded {
			t.Errorf("audit of g2 = %+v, want one capacity_exceeded entry", entries)
		}
		e.finish(2)
	})
}
