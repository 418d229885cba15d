//go:build e2e

package blackbox

import (
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// metricNames are the metrics SPEC §9 requires at least.
var metricNames = []string{
	"rtmanager_operations_total",
	"rtmanager_operation_duration_seconds",
	"rtmanager_lease_acquire_duration_seconds",
	"rtmanager_driver_call_duration_seconds",
	"rtmanager_health_events_total",
	"rtmanager_stream_pending",
	"rtmanager_runtimes",
}

// TestEmbeddedDefaults runs the binary on its embedded stores (no
// DATABASE_URL, no REDIS_URL: SQLite and the in-process Redis server) with
// the Docker driver and an API token: bearer-token auth, a start/stop
// through REST, a start/stop job through the embedded Redis port, and
// /metrics.
func TestEmbeddedDefaults(t *testing.T) {
	testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	const token = "s3cret-token"
	env := baseEnv()
	env["RTMANAGER_API_TOKEN"] = token
	inst := harness.Start(t, harness.Options{Env: env})
	auth := []string{"Authorization", "Bearer " + token}

	t.Run("auth", func(t *testing.T) {
		g := harness.GameID("emb-auth")
		harness.RemoveDockerContainers(t, g)
		for _, tc := range []struct {
			name    string
			headers []string
			want    int
		}{
			{"no token", nil, http.StatusUnauthorized},
			{"wrong token", []string{"Authorization", "Bearer wrong"}, http.StatusUnauthorized},
			{"not bearer", []string{"Authorization", "Basic " + token}, http.StatusUnauthorized},
			{"token", auth, http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, m := inst.Do(http.MethodGet, "/api/v1/internal/runtimes?limit=10", nil, tc.headers...)
				if st != tc.want {
					t.Fatalf("GET /runtimes = %d %v, want %d", st, m, tc.want)
				}
				if st == http.StatusUnauthorized {
					if code := recode[answer](t, m).Error.Code; code != "unauthorized" {
						t.Errorf("401 body %v, want error code unauthorized", m)
					}
					// A refused operation does nothing.
					if a := op(t, inst, g, "start", startBody(image, nil), tc.headers...); a.HTTP != http.StatusUnauthorized || a.Error.Code != "unauthorized" {
						t.Errorf("start without valid token = %s, want 401 unauthorized", a)
					}
					if cs := dockerPS(t, g); len(cs) != 0 {
						t.Errorf("an unauthorized start made containers %+v", cs)
					}
				}
			})
		}
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			if st, _ := inst.Get(path); st != http.StatusOK {
				t.Errorf("GET %s without a token = %d, want 200 (open)", path, st)
			}
		}
	})

	t.Run("rest", func(t *testing.T) {
		g := harness.GameID("emb-rest")
		harness.RemoveDockerContainers(t, g)
		rt := mustOp(t, inst, g, "start", startBody(image, nil), auth...)
		checkEngine(t, rt)
		checkDocker(t, g, rt)
		rt = mustOp(t, inst, g, "stop", stopBody, auth...)
		if rt.Status != "stopped" {
			t.Fatalf("stop left %+v", rt)
		}
		checkDocker(t, g, rt)
		rt = mustOp(t, inst, g, "cleanup", nil, auth...)
		checkDocker(t, g, rt)
	})

	t.Run("stream", func(t *testing.T) {
		g := harness.GameID("emb-str")
		harness.RemoveDockerContainers(t, g)
		redis := dialRedis(t, inst.EmbeddedRedisURL())
		id := redis.xadd(t, streamStart, "game_id", g, "image_ref", image)
		res := redis.awaitResult(t, streamStart, id)
		checkResult(t, res, streamStart, id, g, "start", "success", "")
		st, m := inst.Do(http.MethodGet, "/api/v1/internal/runtimes/"+g, nil, auth...)
		rt := recode[runtimeView](t, m)
		if st != http.StatusOK || rt.Status != "running" || rt.ContainerID != res["container_id"] {
			t.Fatalf("after the start job: %d %+v, want running on %s", st, rt, res["container_id"])
		}
		checkEngine(t, rt)
		checkDocker(t, g, rt)
		id = redis.xadd(t, streamStop, "game_id", g, "reason", "game_finished")
		checkResult(t, redis.awaitResult(t, streamStop, id), streamStop, id, g, "stop", "success", "")
		bad := redis.xadd(t, streamStop, "game_id", g)
		checkResult(t, redis.awaitResult(t, streamStop, bad), streamStop, bad, "", "stop", "failure", "invalid_request")
		_, m = inst.Do(http.MethodGet, "/api/v1/internal/runtimes/"+g, nil, auth...)
		rt = recode[runtimeView](t, m)
		if rt.Status != "stopped" {
			t.Fatalf("after the stop job: %+v, want stopped", rt)
		}
		checkDocker(t, g, rt)
		for _, stream := range []string{streamStart, streamStop} {
			if p := redis.pending(t, stream); len(p) != 0 {
				t.Errorf("%s has pending entries %v", stream, p)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// Two refused operations, so failures are counted too.
		if a := op(t, inst, harness.GameID("emb-none"), "stop", stopBody, auth...); a.HTTP != http.StatusNotFound {
			t.Fatalf("stop of an unknown game = %s, want 404", a)
		}
		if a := op(t, inst, "Not_Valid!", "start", startBody(image, nil), auth...); a.HTTP != http.StatusBadRequest {
			t.Fatalf("start of an invalid game id = %s, want 400", a)
		}
		resp, err := http.Get(inst.URL("/metrics"))
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, name := range metricNames {
			if !regexp.MustCompile(`(?m)^# TYPE ` + name + ` `).Match(body) {
				t.Errorf("/metrics lacks %s", name)
			}
		}
		for _, re := range []string{
			`(?m)^rtmanager_operations_total\{[^}]*op_kind="start"[^}]*\} `,
			`(?m)^rtmanager_operations_total\{[^}]*op_source="stream"[^}]*\} `,
			`(?m)^rtmanager_operations_total\{error_code="invalid_request",op_kind="start",op_source="rest",outcome="failure"\} 1`,
			`(?m)^rtmanager_operations_total\{error_code="not_found",op_kind="stop",op_source="rest",outcome="failure"\} 1`,
			`(?m)^rtmanager_health_events_total\{[^}]*event_type="container_started"[^}]*\} `,
			`(?m)^rtmanager_runtimes\{[^}]*status="[a-z]+"[^}]*\} `,
			`(?m)^rtmanager_stream_pending\{[^}]*stream="runtime:start_jobs"[^}]*\} `,
			`(?m)^rtmanager_driver_call_duration_seconds_bucket\{[^}]*call="[a-z_]+"`,
			`(?m)^rtmanager_operation_duration_seconds_bucket\{[^}]*op_kind="stop"`,
		} {
			if !regexp.MustCompile(re).Match(body) {
				t.Errorf("/metrics has no sample matching %s", re)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", body)
		}
	})
}
