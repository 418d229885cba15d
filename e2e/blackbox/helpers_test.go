//go:build e2e

package blackbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// Stream names and the consumer group of SPEC §4.
const (
	streamStart   = "runtime:start_jobs"
	streamStop    = "runtime:stop_jobs"
	streamResults = "runtime:job_results"
	streamHealth  = "runtime:health_events"
	consumerGroup = "rtmanager"
)

// missingImage names an image no registry serves.
const missingImage = "rtmanager-missing.invalid/engine:none"

// Timeouts of the waits below: generous for a loaded 2-core machine.
const (
	opWait    = 30 * time.Second
	eventWait = 30 * time.Second
)

// baseEnv is the configuration every instance of the suite shares: short
// timeouts and intervals, and a deployment scope of its own, so that its
// reconciler (1s orphan grace) never touches the containers of another
// instance, test or package sharing the Docker host.
func baseEnv() map[string]string {
	return map[string]string{
		"RTMANAGER_STOP_TIMEOUT":       "2s",
		"RTMANAGER_START_TIMEOUT":      "15s",
		"RTMANAGER_LEASE_TTL":          "3s",
		"RTMANAGER_RECONCILE_INTERVAL": "500ms",
		"RTMANAGER_PROBE_INTERVAL":     "200ms",
		"RTMANAGER_PROBE_FAILURES":     "3",
		"RTMANAGER_ORPHAN_GRACE":       "1s",
		"RTMANAGER_SCOPE":              "bb" + testenv.RandomSuffix(4),
		"RTMANAGER_CLEANUP_AFTER":      "1h",
		"RTMANAGER_CLAIM_IDLE":         "5s",
		"RTMANAGER_SHUTDOWN_TIMEOUT":   "10s",
		"RTMANAGER_LOG_LEVEL":          "debug",
		"RTMANAGER_RESTART_BACKOFF":    "1s",
	}
}

// serverStores adds a scratch PostgreSQL database and the test
// redis-server to env.
func serverStores(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	env["RTMANAGER_DATABASE_URL"] = testenv.PostgresURL(t)
	env["RTMANAGER_REDIS_URL"] = redisURL(t)
	return env
}

var (
	redisDBOnce sync.Once
	redisDB     int
)

// redisURL is the test redis-server's URL with a logical database chosen
// once per test process (1-15). The job streams and the consumer group live
// in it, so an rtmanager instance another package runs at the same time on
// the same server (locally; CI runs packages one at a time) cannot take this
// suite's jobs. Results are still read by job id, never assuming an empty
// stream.
func redisURL(t *testing.T) string {
	t.Helper()
	raw := testenv.RedisURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.EnvRedis, err)
	}
	redisDBOnce.Do(func() {
		n, _ := strconv.ParseUint(testenv.RandomSuffix(1), 16, 8)
		redisDB = 1 + int(n%15)
	})
	u.Path = "/" + strconv.Itoa(redisDB)
	return u.String()
}

// ---------------------------------------------------------------------------
// REST

// runtimeView is the Runtime object of SPEC §4.
type runtimeView struct {
	GameID      string     `json:"game_id"`
	Status      string     `json:"status"`
	ContainerID string     `json:"container_id"`
	ImageRef    string     `json:"image_ref"`
	Endpoint    string     `json:"endpoint"`
	Generation  int64      `json:"generation"`
	CreatedAt   *time.Time `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	StoppedAt   *time.Time `json:"stopped_at"`
	RemovedAt   *time.Time `json:"removed_at"`
	LastOpAt    *time.Time `json:"last_op_at"`
}

// answer is a decoded answer of a lifecycle operation: an OperationResult
// on 200, an error body otherwise.
type answer struct {
	HTTP      int
	Outcome   string      `json:"outcome"`
	ErrorCode string      `json:"error_code"`
	Runtime   runtimeView `json:"runtime"`
	Error     struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// code is the answer's error code wherever it sits: error_code of a
// success, error.code of a failure.
func (a answer) code() string {
	if a.HTTP == http.StatusOK {
		return a.ErrorCode
	}
	return a.Error.Code
}

func (a answer) String() string {
	b, _ := json.Marshal(a)
	return string(b)
}

// recode converts a decoded JSON object into T.
func recode[T any](t testing.TB, m map[string]any) T {
	t.Helper()
	var v T
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// op runs one lifecycle operation through REST.
func op(t testing.TB, inst *harness.Instance, game, kind string, body any, headers ...string) answer {
	t.Helper()
	st, m := inst.Op(game, kind, body, headers...)
	if st == 0 {
		t.Fatalf("%s %s: no answer from rtmanager", kind, game)
	}
	a := recode[answer](t, m)
	a.HTTP = st
	return a
}

// mustOp runs an operation that must succeed (200, outcome success) and
// returns the runtime it answered.
func mustOp(t testing.TB, inst *harness.Instance, game, kind string, body any, headers ...string) runtimeView {
	t.Helper()
	a := op(t, inst, game, kind, body, headers...)
	if a.HTTP != http.StatusOK || a.Outcome != "success" {
		t.Fatalf("%s %s = %s, want success", kind, game, a)
	}
	return a.Runtime
}

func startBody(image string, env map[string]string) map[string]any {
	b := map[string]any{"image_ref": image}
	if env != nil {
		b["env"] = env
	}
	return b
}

var stopBody = map[string]any{"reason": "admin_request"}

// getRuntime returns the game's runtime, or ok=false on 404.
func getRuntime(t testing.TB, inst *harness.Instance, game string) (runtimeView, bool) {
	t.Helper()
	st, m := inst.Get("/api/v1/internal/runtimes/" + game)
	switch st {
	case http.StatusOK:
		return recode[runtimeView](t, m), true
	case http.StatusNotFound:
		return runtimeView{}, false
	}
	t.Fatalf("GET runtime %s = %d %v", game, st, m)
	return runtimeView{}, false
}

// mustRuntime returns the game's runtime, failing when it has none.
func mustRuntime(t testing.TB, inst *harness.Instance, game string) runtimeView {
	t.Helper()
	rt, ok := getRuntime(t, inst, game)
	if !ok {
		t.Fatalf("game %s has no runtime", game)
	}
	return rt
}

// awaitStatus waits until the game's record has status and returns it.
func awaitStatus(t testing.TB, inst *harness.Instance, game, status string, timeout time.Duration) runtimeView {
	t.Helper()
	return harness.Await(t, timeout, "game "+game+" to be "+status, func() (runtimeView, bool) {
		rt, ok := getRuntime(t, inst, game)
		return rt, ok && rt.Status == status
	})
}

// operation is one operation-log entry of SPEC §2.
type operation struct {
	ID            int64  `json:"id"`
	GameID        string `json:"game_id"`
	OpKind        string `json:"op_kind"`
	OpSource      string `json:"op_source"`
	SourceRef     string `json:"source_ref"`
	CorrelationID string `json:"correlation_id"`
	ImageRef      string `json:"image_ref"`
	ContainerID   string `json:"container_id"`
	Outcome       string `json:"outcome"`
	ErrorCode     string `json:"error_code"`
	ErrorMessage  string `json:"error_message"`
}

// operations returns the game's operation log, newest first.
func operations(t testing.TB, inst *harness.Instance, game string) []operation {
	t.Helper()
	st, m := inst.Get("/api/v1/internal/runtimes/" + game + "/operations?limit=50")
	if st != http.StatusOK {
		t.Fatalf("GET operations %s = %d %v", game, st, m)
	}
	return recode[struct {
		Items []operation `json:"items"`
	}](t, m).Items
}

// healthSnapshot is the HealthSnapshot of SPEC §4.
type healthSnapshot struct {
	GameID              string         `json:"game_id"`
	ContainerID         string         `json:"container_id"`
	LastEventType       string         `json:"last_event_type"`
	LastEventAt         *time.Time     `json:"last_event_at"`
	Details             map[string]any `json:"details"`
	ConsecutiveFailures int            `json:"consecutive_failures"`
}

// getHealth returns the game's health snapshot, or ok=false on 404.
func getHealth(t testing.TB, inst *harness.Instance, game string) (healthSnapshot, bool) {
	t.Helper()
	st, m := inst.Get("/api/v1/internal/runtimes/" + game + "/health")
	switch st {
	case http.StatusOK:
		return recode[healthSnapshot](t, m), true
	case http.StatusNotFound:
		return healthSnapshot{}, false
	}
	t.Fatalf("GET health %s = %d %v", game, st, m)
	return healthSnapshot{}, false
}

// engineGet fetches path from an engine endpoint and returns the status and
// body (status 0 when it does not answer).
func engineGet(endpoint, path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+path, nil)
	if err != nil {
		return 0, ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkEngine checks that the engine behind a running runtime answers its
// health path and was given its GAME_ID.
func checkEngine(t testing.TB, rt runtimeView) {
	t.Helper()
	if st, body := engineGet(rt.Endpoint, "/healthz"); st != http.StatusOK {
		t.Fatalf("engine of %s at %q: /healthz = %d %q", rt.GameID, rt.Endpoint, st, body)
	}
	st, body := engineGet(rt.Endpoint, "/env")
	var env map[string]string
	if st != http.StatusOK || json.Unmarshal([]byte(body), &env) != nil {
		t.Fatalf("engine of %s: /env = %d %q", rt.GameID, st, body)
	}
	if env["GAME_ID"] != rt.GameID {
		t.Fatalf("engine of %s has GAME_ID %q", rt.GameID, env["GAME_ID"])
	}
}

// ---------------------------------------------------------------------------
// Docker

// dockerCtr is what `docker ps` shows of one labelled container.
type dockerCtr struct {
	ID, State, Generation, Image string
}

// dockerPS lists the game's containers (all states) by label.
func dockerPS(t testing.TB, game string) []dockerCtr {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--no-trunc", "--filter", "label=rtmanager.game_id="+game,
		"--format", `{{.ID}}|{{.State}}|{{.Label "rtmanager.generation"}}|{{.Label "rtmanager.image_ref"}}|{{.Label "rtmanager.managed"}}`).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	var cs []dockerCtr
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 5 {
			t.Fatalf("docker ps line %q", line)
		}
		if f[4] != "true" {
			t.Fatalf("container %s of game %s lacks rtmanager.managed=true", f[0], game)
		}
		cs = append(cs, dockerCtr{ID: f[0], State: f[1], Generation: f[2], Image: f[3]})
	}
	return cs
}

// docker runs the docker CLI and returns its trimmed output.
func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// checkDocker checks that the game's Docker containers agree with its
// record: a running record has exactly its one running container of its
// generation and image; a stopped one exactly its one exited container; a
// removed record (or none, status "") has no container at all.
func checkDocker(t testing.TB, game string, rt runtimeView) {
	t.Helper()
	cs := dockerPS(t, game)
	switch rt.Status {
	case "running", "stopped":
		want := map[string]string{"running": "running", "stopped": "exited"}[rt.Status]
		if len(cs) != 1 {
			t.Fatalf("game %s (%s) has containers %+v, want exactly one", game, rt.Status, cs)
		}
		c := cs[0]
		if c.ID != rt.ContainerID || c.State != want || c.Generation != strconv.FormatInt(rt.Generation, 10) || c.Image != rt.ImageRef {
			t.Fatalf("game %s: container %+v, want id %s state %s generation %d image %s",
				game, c, rt.ContainerID, want, rt.Generation, rt.ImageRef)
		}
	default:
		if len(cs) != 0 {
			t.Fatalf("game %s (%q) has containers %+v, want none", game, rt.Status, cs)
		}
	}
}

var (
	imagesMu sync.Mutex
	built    = map[string]string{} // kind → ref built by this process
	madeRefs []string
)

// otherImage returns a second tag of the engine image: another image_ref
// that runs a healthy engine.
func otherImage(t testing.TB) string {
	t.Helper()
	return image(t, "other", func(ref string) {
		docker(t, "tag", testenv.EngineImage(t), ref)
	})
}

// badImage returns an image whose engine exits with code 1 at once, never
// having listened: the engine image committed with ENGINE_EXIT_AFTER=1ms,
// ENGINE_EXIT_CODE=1 and ENGINE_START_DELAY=1h. (Without the delay the
// engine listens at once too, and under load it could answer a start's
// first readiness probe, sent as soon as the container runs, before its
// 1 ms timer fired: the start then rightly succeeded.)
func badImage(t testing.TB) string {
	t.Helper()
	return image(t, "bad", func(ref string) {
		id := docker(t, "create", testenv.EngineImage(t))
		defer exec.Command("docker", "rm", "-f", id).Run()
		docker(t, "commit", "--change", "ENV ENGINE_EXIT_AFTER=1ms", "--change", "ENV ENGINE_EXIT_CODE=1",
			"--change", "ENV ENGINE_START_DELAY=1h", id, ref)
	})
}

func image(t testing.TB, kind string, build func(ref string)) string {
	t.Helper()
	imagesMu.Lock()
	defer imagesMu.Unlock()
	if ref, ok := built[kind]; ok {
		return ref
	}
	ref := fmt.Sprintf("rtm-blackbox-%s:%s", kind, testenv.RandomSuffix(4))
	build(ref)
	built[kind] = ref
	madeRefs = append(madeRefs, ref)
	return ref
}

// TestMain removes the image tags the suite made.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, ref := range madeRefs {
		if out, err := exec.Command("docker", "rmi", ref).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "remove image %s: %v %s\n", ref, err, out)
		}
	}
	os.Exit(code)
}
