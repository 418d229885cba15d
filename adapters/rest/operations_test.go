package rest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

const api = "/api/v1/internal/runtimes/"

func TestStartReplayConflict(t *testing.T) {
	e := newEnv(t, options{})
	res := e.call(t, http.MethodPost, api+"g1/start", map[string]any{"image_ref": imageOK, "env": map[string]string{"MODE": "ranked"}})
	if res.status != http.StatusOK {
		t.Fatalf("start: %d %s", res.status, res.body)
	}
	if res.header.Get(rest.HeaderCorrelationID) == "" {
		t.Error("start answered without X-Correlation-Id")
	}
	// The Runtime shape is pinned exactly, env is never exposed, and
	// absent times are null.
	body := res.json(t)
	rt := body["runtime"].(map[string]any)
	keys := make([]string, 0, len(rt))
	for k := range rt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"container_id", "created_at", "endpoint", "game_id", "generation", "image_ref",
		"last_op_at", "removed_at", "started_at", "status", "stopped_at"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("runtime keys (-want +got):\n%s", diff)
	}
	if body["outcome"] != "success" || body["error_code"] != "" || rt["status"] != "running" ||
		rt["stopped_at"] != nil || rt["removed_at"] != nil || rt["generation"] != 1.0 || rt["endpoint"] == "" {
		t.Errorf("start body = %s", res.body)
	}
	started, err := time.Parse(time.RFC3339Nano, rt["started_at"].(string))
	if err != nil || started.Location() != time.UTC {
		t.Errorf("started_at %v is not RFC 3339 UTC: %v", rt["started_at"], err)
	}
	if strings.Contains(string(res.body), "ranked") {
		t.Errorf("the job env leaked into the response: %s", res.body)
	}

	res = e.call(t, http.MethodPost, api+"g1/start", map[string]any{"image_ref": imageOK})
	var replay rest.OperationResult
	res.decode(t, &replay)
	if res.status != http.StatusOK || replay.Outcome != "success" || replay.ErrorCode != "replay_no_op" || replay.Runtime.Status != "running" {
		t.Errorf("replayed start: %d %s", res.status, res.body)
	}

	res = e.call(t, http.MethodPost, api+"g1/start", map[string]any{"image_ref": imageOK2})
	if res.status != http.StatusConflict || res.code(t) != "conflict" {
		t.Errorf("start on another image: %d %s", res.status, res.body)
	}
}

// TestErrorStatuses drives every stable error code through a real scenario
// and checks its HTTP status and body (the harness validates both against
// docs/openapi.yaml).
func TestErrorStatuses(t *testing.T) {
	tests := []struct {
		name   string
		opts   options
		setup  func(t *testing.T, e *env)
		method string
		path   string
		body   any
		header []string
		status int
		code   string
	}{
		{name: "invalid game id", method: http.MethodPost, path: api + "Bad_Game/start",
			body: map[string]any{"image_ref": imageOK}, status: 400, code: "invalid_request"},
		{name: "invalid game id on read", method: http.MethodGet, path: api + "-x", status: 400, code: "invalid_request"},
		{name: "invalid env", method: http.MethodPost, path: api + "g/start",
			body: map[string]any{"image_ref": imageOK, "env": map[string]string{"PORT": "1"}}, status: 400, code: "invalid_request"},
		{name: "unauthorized without token", opts: options{token: "s3cret"}, method: http.MethodGet, path: api + "g",
			status: 401, code: "unauthorized"},
		{name: "unauthorized with wrong token", opts: options{token: "s3cret"}, method: http.MethodGet, path: api + "g",
			header: []string{"Authorization", "Bearer s3cre"}, status: 401, code: "unauthorized"},
		{name: "forbidden image", opts: options{allow: core.MustParseImageAllow("games/*")}, method: http.MethodPost,
			path: api + "g/start", body: map[string]any{"image_ref": "evil/miner:1"}, status: 403, code: "forbidden"},
		{name: "not found runtime", method: http.MethodGet, path: api + "nope", status: 404, code: "not_found"},
		{name: "not found stop", method: http.MethodPost, path: api + "nope/stop",
			body: map[string]any{"reason": "admin_request"}, status: 404, code: "not_found"},
		{name: "not found health", method: http.MethodGet, path: api + "nope/health", status: 404, code: "not_found"},
		{name: "not found operations", method: http.MethodGet, path: api + "nope/operations", status: 404, code: "not_found"},
		{name: "conflict cleanup of running", setup: func(t *testing.T, e *env) { e.mustStart(t, "g", imageOK) },
			method: http.MethodDelete, path: api + "g", status: 409, code: "conflict"},
		{name: "conflict restart of removed", setup: func(t *testing.T, e *env) {
			e.mustStart(t, "g", imageOK)
			e.mustStop(t, "g")
			if res := e.call(t, http.MethodDelete, api+"g", nil); res.status != 200 {
				t.Fatalf("cleanup: %d %s", res.status, res.body)
			}
		}, method: http.MethodPost, path: api + "g/restart", status: 409, code: "conflict"},
		{name: "image unavailable", method: http.MethodPost, path: api + "g/start",
			body: map[string]any{"image_ref": imageAbsent}, status: 422, code: "image_unavailable"},
		{name: "start failed", method: http.MethodPost, path: api + "g/start",
			body: map[string]any{"image_ref": imageBroken}, status: 502, code: "start_failed"},
		{name: "engine died during start-up", method: http.MethodPost, path: api + "g/start",
			body: map[string]any{"image_ref": imageDies}, status: 502, code: "start_failed"},
		{name: "lease store down", setup: func(t *testing.T, e *env) { e.leases.SetDown(true) },
			method: http.MethodPost, path: api + "g/start", body: map[string]any{"image_ref": imageOK}, status: 503, code: "service_unavailable"},
		{name: "record store down on read", setup: func(t *testing.T, e *env) { e.store.FailNext(memory.MethodGet, nil) },
			method: http.MethodGet, path: api + "g", status: 503, code: "service_unavailable"},
		{name: "store bug on read", setup: func(t *testing.T, e *env) { e.store.FailNext(memory.MethodList, errors.New("syntax error")) },
			method: http.MethodGet, path: "/api/v1/internal/runtimes", status: 500, code: "internal"},
		// Reads code store errors through core's one table, as operations do.
		{name: "store timeout on read", setup: func(t *testing.T, e *env) { e.store.FailNext(memory.MethodList, context.DeadlineExceeded) },
			method: http.MethodGet, path: "/api/v1/internal/runtimes", status: 503, code: "service_unavailable"},
		{name: "store rejects a read", setup: func(t *testing.T, e *env) {
			e.store.FailNext(memory.MethodListOperations, fmt.Errorf("bad key: %w", ports.ErrInvalid))
		}, method: http.MethodGet, path: api + "g/operations", status: 400, code: "invalid_request"},
		{name: "panic in handler", opts: options{ready: func(context.Context) error { panic("boom") }},
			method: http.MethodGet, path: "/readyz", status: 500, code: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			res := e.call(t, tt.method, tt.path, tt.body, tt.header...)
			if res.status != tt.status || res.code(t) != tt.code {
				t.Fatalf("got %d %s, want %d %s", res.status, res.body, tt.status, tt.code)
			}
			if b := res.json(t); b["error"].(map[string]any)["message"] == "" {
				t.Errorf("error without a message: %s", res.body)
			}
			if res.header.Get(rest.HeaderRequestID) == "" {
				t.Error("no X-Request-Id on an error answer")
			}
			if tt.status == 401 && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", res.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestBusyConflictRetryAfter(t *testing.T) {
	e := newEnv(t, options{})
	if ok, err := e.leases.TryAcquire(context.Background(), "g", "someone-else", time.Minute); !ok || err != nil {
		t.Fatalf("TryAcquire = %v, %v", ok, err)
	}
	res := e.call(t, http.MethodPost, api+"g/start", map[string]any{"image_ref": imageOK})
	if res.status != http.StatusConflict || res.code(t) != "conflict" || res.header.Get("Retry-After") == "" {
		t.Fatalf("start of a busy game: %d %v %s", res.status, res.header, res.body)
	}
}

func TestAuthorizedAndOpenEndpoints(t *testing.T) {
	e := newEnv(t, options{token: "s3cret", metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("rtmanager_runtimes 0\n"))
	})})
	res := e.call(t, http.MethodPost, api+"g/start", map[string]any{"image_ref": imageOK}, "Authorization", "Bearer s3cret")
	if res.status != http.StatusOK {
		t.Fatalf("authorized start: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodGet, api+"g", nil, "Authorization", "bearer s3cret")
	if res.status != http.StatusOK {
		t.Errorf("the scheme is case-insensitive: %d %s", res.status, res.body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		if res := e.call(t, http.MethodGet, path, nil); res.status != http.StatusOK {
			t.Errorf("GET %s without a token: %d %s", path, res.status, res.body)
		}
	}
	// An unknown route under the API still asks for credentials first.
	if res := e.call(t, http.MethodGet, "/api/v1/internal/nothing", nil); res.status != http.StatusUnauthorized {
		t.Errorf("unknown API route without a token: %d", res.status)
	}
}

func TestStopRestartPatchCleanup(t *testing.T) {
	e := newEnv(t, options{})
	first := e.mustStart(t, "g", imageOK)

	res := e.call(t, http.MethodPost, api+"g/restart", nil)
	var out rest.OperationResult
	res.decode(t, &out)
	if res.status != 200 || out.Runtime.Generation != first.Runtime.Generation+1 || out.Runtime.ContainerID == first.Runtime.ContainerID {
		t.Fatalf("restart with an empty body: %d %s", res.status, res.body)
	}
	if res := e.call(t, http.MethodPost, api+"g/restart", "{}"); res.status != 200 {
		t.Fatalf("restart with {}: %d %s", res.status, res.body)
	}

	res = e.call(t, http.MethodPost, api+"g/patch", map[string]any{"image_ref": imageOK2})
	res.decode(t, &out)
	if res.status != 200 || out.Runtime.ImageRef != imageOK2 || out.Runtime.Status != "running" {
		t.Fatalf("patch: %d %s", res.status, res.body)
	}
	// A failed patch rolls back to the old image and reports the failure.
	res = e.call(t, http.MethodPost, api+"g/patch", map[string]any{"image_ref": imageDies})
	if res.status != http.StatusBadGateway || res.code(t) != "start_failed" {
		t.Fatalf("patch to a dying image: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodGet, api+"g", nil)
	var rt rest.Runtime
	res.decode(t, &rt)
	if rt.Status != "running" || rt.ImageRef != imageOK2 {
		t.Fatalf("after rollback: %s", res.body)
	}

	e.mustStop(t, "g")
	res = e.call(t, http.MethodPost, api+"g/stop", map[string]any{"reason": "game_finished"})
	res.decode(t, &out)
	if res.status != 200 || out.ErrorCode != "replay_no_op" || out.Runtime.Status != "stopped" || out.Runtime.StoppedAt == nil {
		t.Fatalf("replayed stop: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodDelete, api+"g", nil)
	res.decode(t, &out)
	if res.status != 200 || out.ErrorCode != "" || out.Runtime.Status != "removed" || out.Runtime.ContainerID != "" {
		t.Fatalf("cleanup: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodDelete, api+"g", nil)
	res.decode(t, &out)
	if res.status != 200 || out.ErrorCode != "replay_no_op" {
		t.Fatalf("replayed cleanup: %d %s", res.status, res.body)
	}
}

func TestSourceRefAndOpSource(t *testing.T) {
	e := newEnv(t, options{})
	res := e.call(t, http.MethodPost, api+"g/start", map[string]any{"image_ref": imageOK}, rest.HeaderRequestID, "req-42")
	if res.status != 200 || res.header.Get(rest.HeaderRequestID) != "req-42" {
		t.Fatalf("start: %d %v", res.status, res.header)
	}
	res = e.call(t, http.MethodPost, api+"g/stop", map[string]any{"reason": "admin_request"}, rest.HeaderAdminUser, "Alice Admin")
	if res.status != 200 {
		t.Fatalf("stop: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodPost, api+"g/restart", nil)
	generated, correlation := res.header.Get(rest.HeaderRequestID), res.header.Get(rest.HeaderCorrelationID)
	if res.status != 200 || generated == "" {
		t.Fatalf("restart: %d %v", res.status, res.header)
	}

	res = e.call(t, http.MethodGet, api+"g/operations", nil)
	var ops rest.OperationList
	res.decode(t, &ops)
	type row struct{ Kind, Source, Ref, Outcome string }
	var got []row
	for _, op := range ops.Items {
		got = append(got, row{op.OpKind, op.OpSource, op.SourceRef, op.Outcome})
	}
	// Newest first: restart's own entry is written after its inner start
	// (a stopped game is not stopped again), and both carry its source.
	want := []row{
		{"restart", "rest", generated, "success"},
		{"start", "rest", generated, "success"},
		{"stop", "admin", "Alice Admin", "success"},
		{"start", "rest", "req-42", "success"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("operations (-want +got):\n%s", diff)
	}
	if ops.Items[0].CorrelationID != correlation || ops.Items[1].CorrelationID != correlation || correlation == "" {
		t.Errorf("restart and its inner start must share a correlation id: %+v", ops.Items[:2])
	}
	if ops.Items[0].ID <= ops.Items[1].ID || ops.Items[0].StartedAt == nil || ops.Items[0].FinishedAt == nil {
		t.Errorf("entries not newest first or without times: %+v", ops.Items[:2])
	}

	res = e.call(t, http.MethodGet, api+"g/operations?limit=2", nil)
	res.decode(t, &ops)
	if res.status != 200 || len(ops.Items) != 2 || ops.Items[0].OpKind != "restart" {
		t.Fatalf("limit=2: %d %s", res.status, res.body)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "limit=1&limit=2", "since=1"} {
		if res := e.call(t, http.MethodGet, api+"g/operations?"+q, nil); res.status != 400 || res.code(t) != "invalid_request" {
			t.Errorf("operations?%s: %d %s", q, res.status, res.body)
		}
	}
}

func TestBadHeaders(t *testing.T) {
	e := newEnv(t, options{})
	for _, h := range [][]string{
		{rest.HeaderAdminUser, strings.Repeat("a", 129)},
		{rest.HeaderAdminUser, "bad\x01user"},
		{rest.HeaderRequestID, strings.Repeat("r", 129)},
		{rest.HeaderRequestID, "id\x7f"},
	} {
		res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes", nil, h...)
		if res.status != 400 || res.code(t) != "invalid_request" {
			t.Errorf("%s %q: %d %s", h[0], h[1], res.status, res.body)
		}
		if id := res.header.Get(rest.HeaderRequestID); id == "" || id == h[1] {
			t.Errorf("a bad request id must be replaced, got %q", id)
		}
	}
}

// TestClientHangUpDoesNotAbandonStart: a client that disconnects while its
// start waits for the engine must not cancel the start: the engine is kept,
// the record ends running and the audit entry is written.
func TestClientHangUpDoesNotAbandonStart(t *testing.T) {
	e := newEnv(t, options{})
	const slow = "games/slow:1"
	e.driver.AddImage(slow, fakedriver.Behavior{NeverReady: true})
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	r := req(t, http.MethodPost, api+"g/start", map[string]any{"image_ref": slow}).WithContext(ctx)
	done := make(chan reply, 1)
	go func() {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, r)
		done <- reply{status: rec.Code, body: rec.Body.Bytes()}
	}()
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == ""; {
		if cs := e.driver.Containers(); len(cs) > 0 {
			id = cs[0].ID
		} else if time.Now().After(deadline) {
			t.Fatal("no container was started")
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	hangUp()
	time.Sleep(20 * time.Millisecond) // the start keeps polling after the hang-up
	if err := e.driver.SetReady(id, true); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.status != http.StatusOK {
		t.Fatalf("start after the client hung up: %d %s", res.status, res.body)
	}
	rec, err := e.store.Get(context.Background(), "g")
	if err != nil || rec.Status != core.StatusRunning || rec.ContainerID != id {
		t.Fatalf("record = %+v, %v; want running on %s", rec, err, id)
	}
	ops, err := e.store.ListOperations(context.Background(), "g", 0)
	if err != nil || len(ops) != 1 || ops[0].Outcome != core.OutcomeSuccess {
		t.Fatalf("operation log = %+v, %v; want one success", ops, err)
	}
}
