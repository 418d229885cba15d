//go:build e2e

package blackbox

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// restartView is the restart part of a Runtime (SPEC §3a).
type restartView struct {
	Status        string     `json:"status"`
	ContainerID   string     `json:"container_id"`
	Generation    int64      `json:"generation"`
	RestartCount  int        `json:"restart_count"`
	NextRestartAt *time.Time `json:"next_restart_at"`
	RestartPolicy struct {
		Mode        string `json:"mode"`
		MaxRestarts int    `json:"max_restarts"`
		Window      string `json:"window"`
	} `json:"restart_policy"`
}

func restartOf(t testing.TB, inst *harness.Instance, game string) restartView {
	t.Helper()
	st, m := inst.Get("/api/v1/internal/runtimes/" + game)
	if st != http.StatusOK {
		t.Fatalf("GET runtime %s = %d %v", game, st, m)
	}
	return recode[restartView](t, m)
}

// startPolicy starts game on image with env and a restart policy.
func startPolicy(t *testing.T, inst *harness.Instance, game, image string, env map[string]string, policy map[string]any) runtimeView {
	t.Helper()
	b := startBody(image, env)
	b["restart_policy"] = policy
	return mustOp(t, inst, game, "start", b)
}

// eventsOfType returns the game's health events of type typ.
func eventsOfType(t testing.TB, r *streams, game, typ string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, e := range r.healthEvents(t, game) {
		if e["event_type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func occurred(t testing.TB, ev map[string]string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, ev["occurred_at"])
	if err != nil {
		t.Fatalf("occurred_at of %v: %v", ev, err)
	}
	return at
}

// restartInstance starts an instance with the Docker driver on the test
// PostgreSQL and redis-server with the given restart backoff (and extra
// env), and returns it, its Redis and the engine image.
func restartInstance(t *testing.T, backoff string, extra map[string]string) (*harness.Instance, *streams, string) {
	t.Helper()
	testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	env := serverStores(t, baseEnv())
	env["RTMANAGER_RESTART_BACKOFF"] = backoff
	env["RTMANAGER_RESTART_BACKOFF_MAX"] = "30s"
	// 32MiB is ample for the test engine and makes ENGINE_OOM quick.
	env["RTMANAGER_MEMORY_LIMIT"] = "32MiB"
	for k, v := range extra {
		env[k] = v
	}
	inst := harness.Start(t, harness.Options{Env: env})
	return inst, dialRedis(t, env["RTMANAGER_REDIS_URL"]), image
}

// TestDockerRestartPolicy checks automatic restarts on real Docker with a
// 1 s backoff: a killed engine comes back, a clean exit stays stopped, an
// engine exiting every 2 s ends in crash_loop, an OOM kill is classified
// oom from Docker's flag.
func TestDockerRestartPolicy(t *testing.T) {
	inst, r, image := restartInstance(t, "1s", nil)

	t.Run("killed engine comes back", func(t *testing.T) {
		g := dockerGame(t, "rs-kill")
		first := startPolicy(t, inst, g, image, nil, map[string]any{"mode": "on_failure"})
		if rv := restartOf(t, inst, g); rv.RestartPolicy.Mode != "on_failure" || rv.RestartPolicy.MaxRestarts != 5 ||
			rv.RestartPolicy.Window != "10m0s" || rv.RestartCount != 0 {
			t.Fatalf("runtime after start: %+v", rv)
		}
		killed := time.Now()
		docker(t, "kill", first.ContainerID)
		exit, details := r.awaitEvent(t, g, "container_exited", first.ContainerID)
		if details["classification"] != "killed" || details["exit_code"] != 137.0 || details["oom_killed"] != false {
			t.Fatalf("container_exited details %v, want killed / 137 / not OOM", details)
		}
		_, rd := r.awaitEvent(t, g, "container_restarted", "")
		if rd["attempt"] != 1.0 || rd["classification"] != "killed" || rd["exit_code"] != 137.0 || rd["backoff_ms"] != 1000.0 {
			t.Fatalf("container_restarted details %v", rd)
		}
		rt := awaitStatus(t, inst, g, "running", opWait)
		if rt.ContainerID == first.ContainerID || rt.Generation != first.Generation+1 {
			t.Fatalf("restarted runtime %+v, want a new container of generation %d", rt, first.Generation+1)
		}
		checkEngine(t, rt)
		checkDocker(t, g, rt)
		if rv := restartOf(t, inst, g); rv.RestartCount != 1 || rv.NextRestartAt != nil {
			t.Fatalf("runtime after the restart: %+v", rv)
		}
		ops := awaitNewestOp(t, inst, g, "restart")
		if len(ops) < 2 || ops[0].OpSource != "monitor" || ops[0].Outcome != "success" ||
			ops[1].OpKind != "start" || ops[1].OpSource != "monitor" || ops[1].CorrelationID != ops[0].CorrelationID {
			t.Fatalf("operations %+v, want restart and its start by the monitor", ops)
		}
		t.Logf("detection latency (docker kill → container_exited): %s", occurred(t, exit).Sub(killed))
		if !strings.Contains(metrics(t, inst), `rtmanager_restarts_total{classification="killed"`) {
			t.Errorf("/metrics lacks rtmanager_restarts_total{classification=\"killed\"}")
		}
	})

	t.Run("a container removed behind rtmanager's back comes back", func(t *testing.T) {
		g := dockerGame(t, "rs-gone")
		first := startPolicy(t, inst, g, image, nil, map[string]any{"mode": "on_failure"})
		docker(t, "rm", "-f", first.ContainerID)
		r.awaitEvent(t, g, "container_disappeared", first.ContainerID)
		if _, details := r.awaitEvent(t, g, "container_restarted", ""); details["classification"] != "killed" {
			t.Fatalf("container_restarted details %v, want classification killed", details)
		}
		rt := harness.Await(t, opWait, "game "+g+" to come back", func() (runtimeView, bool) {
			rt := mustRuntime(t, inst, g)
			return rt, rt.Status == "running" && rt.Generation == first.Generation+1
		})
		checkEngine(t, rt)
		checkDocker(t, g, rt)
	})

	t.Run("clean exit under on_failure stays stopped", func(t *testing.T) {
		g := dockerGame(t, "rs-clean")
		first := startPolicy(t, inst, g, image, map[string]string{"ENGINE_EXIT_AFTER": "1s", "ENGINE_EXIT_CODE": "0"},
			map[string]any{"mode": "on_failure"})
		_, details := r.awaitEvent(t, g, "container_exited", first.ContainerID)
		if details["classification"] != "clean" || details["exit_code"] != 0.0 {
			t.Fatalf("container_exited details %v, want clean / 0", details)
		}
		// Three backoffs long: a restart would have happened by then.
		staysStopped(t, inst, r, g, first.Generation, 3*time.Second)
	})

	t.Run("an engine exiting every 2s hits crash_loop", func(t *testing.T) {
		g := dockerGame(t, "rs-loop")
		first := startPolicy(t, inst, g, image, map[string]string{"ENGINE_EXIT_AFTER": "2s", "ENGINE_EXIT_CODE": "3"},
			map[string]any{"mode": "on_failure", "max_restarts": 2, "window": "5m"})
		_, details := r.awaitEvent(t, g, "crash_loop", "")
		if details["restarts"] != 2.0 || details["window"] != "5m0s" {
			t.Fatalf("crash_loop details %v", details)
		}
		rt := awaitStatus(t, inst, g, "stopped", opWait)
		if rt.Generation != first.Generation+2 {
			t.Fatalf("crash-looped runtime %+v, want generation %d (two restarts)", rt, first.Generation+2)
		}
		if rv := restartOf(t, inst, g); rv.RestartCount != 2 || rv.NextRestartAt != nil {
			t.Fatalf("crash-looped runtime: %+v", rv)
		}
		restarts := eventsOfType(t, r, g, "container_restarted")
		if len(restarts) != 2 {
			t.Fatalf("%d container_restarted events, want 2: %v", len(restarts), restarts)
		}
		if ops := awaitNewestOp(t, inst, g, "stop"); ops[0].OpSource != "monitor" || ops[0].SourceRef != "crash_loop" {
			t.Fatalf("newest operation %+v, want the crash_loop stop by the monitor", ops[0])
		}
		harness.Consistently(t, 3*time.Second, "the crash-looped game staying stopped", func() bool {
			return mustRuntime(t, inst, g).Generation == rt.Generation
		})
		if !strings.Contains(metrics(t, inst), "rtmanager_crash_loops_total") {
			t.Errorf("/metrics lacks rtmanager_crash_loops_total")
		}
	})

	t.Run("an OOM kill is classified oom", func(t *testing.T) {
		g := dockerGame(t, "rs-oom")
		first := startPolicy(t, inst, g, image, map[string]string{"ENGINE_OOM": "1", "ENGINE_OOM_AFTER": "500ms"},
			map[string]any{"mode": "on_failure", "max_restarts": 1})
		_, details := r.awaitEvent(t, g, "container_exited", first.ContainerID)
		if details["classification"] != "oom" || details["oom_killed"] != true {
			t.Fatalf("container_exited details %v, want oom with oom_killed", details)
		}
		_, rd := r.awaitEvent(t, g, "container_restarted", "")
		if rd["classification"] != "oom" {
			t.Fatalf("container_restarted details %v, want classification oom", rd)
		}
		r.awaitEvent(t, g, "crash_loop", "")
	})
}

// dockerGame returns a fresh game id whose Docker containers are removed
// when t ends.
func dockerGame(t *testing.T, prefix string) string {
	g := harness.GameID(prefix)
	harness.RemoveDockerContainers(t, g)
	return g
}

// staysStopped checks for d that the game stays stopped on generation gen,
// and that it was never restarted.
func staysStopped(t *testing.T, inst *harness.Instance, r *streams, g string, gen int64, d time.Duration) {
	t.Helper()
	harness.Consistently(t, d, "game "+g+" staying stopped", func() bool {
		rt := mustRuntime(t, inst, g)
		return rt.Status == "stopped" && rt.Generation == gen
	})
	if evs := eventsOfType(t, r, g, "container_restarted"); len(evs) != 0 {
		t.Fatalf("game %s was restarted: %v", g, evs)
	}
}

// awaitNewestOp waits until the newest entry of the game's operation log
// is of kind (an operation writes it as it finishes, just after its
// events and record change are visible) and returns the log.
func awaitNewestOp(t *testing.T, inst *harness.Instance, game, kind string) []operation {
	t.Helper()
	return harness.Await(t, opWait, "a "+kind+" entry in the audit of "+game, func() ([]operation, bool) {
		ops := operations(t, inst, game)
		return ops, len(ops) > 0 && ops[0].OpKind == kind
	})
}

// stopGame stops game, retrying while another operation holds its lease
// (an automatic restart that just made the engine run still records its
// outcome), as a client meeting a busy conflict does.
func stopGame(t *testing.T, inst *harness.Instance, game string) runtimeView {
	t.Helper()
	return harness.Await(t, opWait, "a stop of "+game, func() (runtimeView, bool) {
		a := op(t, inst, game, "stop", stopBody)
		if a.HTTP == http.StatusConflict && strings.Contains(a.Error.Message, "another operation is in progress") {
			return runtimeView{}, false
		}
		if a.HTTP != http.StatusOK || a.Outcome != "success" {
			t.Fatalf("stop %s = %s, want success", game, a)
		}
		return a.Runtime, true
	})
}

// killEngine SIGKILLs the engine process of game, found by the GAME_ID in
// its environment: a kill by someone other than rtmanager, whatever the
// driver (the test runs as root, as the runtimes do).
func killEngine(t *testing.T, game string) {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), "GAME_ID="+game) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill engine %d of %s: %v", pid, game, err)
		}
		return
	}
	t.Fatalf("no engine process of %s", game)
}

// metrics returns the instance's /metrics text.
func metrics(t testing.TB, inst *harness.Instance) string {
	t.Helper()
	resp, err := http.Get(inst.URL("/metrics"))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDockerRestartSchedule checks the durable schedule with a 4 s
// backoff: an explicit stop during the backoff wins, a kill -9 of
// rtmanager during the backoff still restarts the game once it returns,
// and two instances on one database restart a game exactly once.
func TestDockerRestartSchedule(t *testing.T) {
	inst, r, image := restartInstance(t, "4s", nil)
	onFailure := map[string]any{"mode": "on_failure"}

	// crash kills the game's engine and waits until the exit is settled
	// with a pending restart.
	crash := func(t *testing.T, g string, rt runtimeView) restartView {
		t.Helper()
		docker(t, "kill", rt.ContainerID)
		r.awaitEvent(t, g, "container_exited", rt.ContainerID)
		rv := restartOf(t, inst, g)
		if rv.Status != "stopped" || rv.NextRestartAt == nil {
			t.Fatalf("after the kill: %+v, want stopped with a pending restart", rv)
		}
		return rv
	}

	t.Run("an explicit stop during the backoff wins", func(t *testing.T) {
		g := dockerGame(t, "rs-stop")
		first := startPolicy(t, inst, g, image, nil, onFailure)
		pending := crash(t, g, first)
		a := op(t, inst, g, "stop", stopBody)
		if a.HTTP != http.StatusOK || a.Outcome != "success" || a.ErrorCode != "" {
			t.Fatalf("stop during the backoff = %s, want a fresh success", a)
		}
		if rv := restartOf(t, inst, g); rv.NextRestartAt != nil {
			t.Fatalf("the stop left the pending restart: %+v", rv)
		}
		staysStopped(t, inst, r, g, first.Generation, time.Until(*pending.NextRestartAt)+3*time.Second)
	})

	t.Run("kill -9 of rtmanager during the backoff", func(t *testing.T) {
		g := dockerGame(t, "rs-k9")
		first := startPolicy(t, inst, g, image, nil, onFailure)
		pending := crash(t, g, first)
		inst.Kill()
		// Dead past the restart's due time: nobody restarts the game.
		deadline := pending.NextRestartAt.Add(time.Second)
		harness.Consistently(t, time.Until(deadline), "the container staying exited while rtmanager is dead", func() bool {
			cs := dockerPS(t, g)
			return len(cs) == 1 && cs[0].State == "exited"
		})
		inst.Restart()
		rt := awaitStatus(t, inst, g, "running", opWait)
		if rt.Generation != first.Generation+1 || rt.ContainerID == first.ContainerID {
			t.Fatalf("after rtmanager came back: %+v", rt)
		}
		checkDocker(t, g, rt)
		if evs := eventsOfType(t, r, g, "container_restarted"); len(evs) != 1 {
			t.Fatalf("%d container_restarted events, want 1: %v", len(evs), evs)
		}
	})

	t.Run("two instances restart a game exactly once", func(t *testing.T) {
		second := harness.Start(t, harness.Options{Env: withoutInstanceAddrs(inst.Env)})
		g := dockerGame(t, "rs-two")
		first := startPolicy(t, second, g, image, nil, onFailure)
		pending := crash(t, g, first)
		rt := awaitStatus(t, inst, g, "running", opWait)
		// Past another backoff and several reconcile passes of both.
		harness.Consistently(t, time.Until(pending.NextRestartAt.Add(5*time.Second)), "one restart only", func() bool {
			now := mustRuntime(t, second, g)
			return now.Status == "running" && now.Generation == first.Generation+1 && now.ContainerID == rt.ContainerID
		})
		if evs := eventsOfType(t, r, g, "container_restarted"); len(evs) != 1 {
			t.Fatalf("%d container_restarted events, want 1: %v", len(evs), evs)
		}
		n := 0
		for _, o := range operations(t, inst, g) {
			if o.OpKind == "restart" && o.OpSource == "monitor" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d monitor restarts in the audit, want 1", n)
		}
		checkDocker(t, g, rt)
	})
}

// withoutInstanceAddrs returns a copy of env without the per-instance keys
// the harness fills (address, data dir, embedded Redis, instance id), for a
// second instance of the same deployment.
func withoutInstanceAddrs(env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		switch k {
		case "RTMANAGER_HTTP_ADDR", "RTMANAGER_DATA_DIR", "RTMANAGER_EMBEDDED_REDIS_ADDR", "RTMANAGER_INSTANCE_ID":
			continue
		}
		out[k] = v
	}
	return out
}

// restartThroughDriver starts game under on_failure, makes its engine die
// with kill, and checks that the monitor restarts it in a new container of
// the next generation, with the exit classified as want; then it stops
// the game.
func restartThroughDriver(t *testing.T, inst *harness.Instance, g, image string, env map[string]string,
	kill func(rt runtimeView), want string) {
	t.Helper()
	first := startPolicy(t, inst, g, image, env, map[string]any{"mode": "on_failure", "max_restarts": 5})
	kill(first)
	rt := harness.Await(t, opWait, "game "+g+" to be restarted", func() (runtimeView, bool) {
		rt := mustRuntime(t, inst, g)
		return rt, rt.Status == "running" && rt.Generation == first.Generation+1
	})
	if rt.ContainerID == first.ContainerID {
		t.Fatalf("restarted in the same container %s", rt.ContainerID)
	}
	checkEngine(t, rt)
	if rv := restartOf(t, inst, g); rv.RestartCount != 1 {
		t.Fatalf("restart_count %d, want 1", rv.RestartCount)
	}
	if o := awaitNewestOp(t, inst, g, "restart")[0]; o.OpSource != "monitor" || o.Outcome != "success" {
		t.Fatalf("newest operation %+v, want the monitor's restart", o)
	}
	hs := harness.Await(t, eventWait, "the container_restarted snapshot", func() (healthSnapshot, bool) {
		hs, ok := getHealth(t, inst, g)
		return hs, ok && hs.LastEventType == "container_restarted"
	})
	if hs.Details["classification"] != want {
		t.Fatalf("container_restarted details %v, want classification %s", hs.Details, want)
	}
	stopGame(t, inst, g)
	if rt := mustOp(t, inst, g, "cleanup", nil); rt.Status != "removed" {
		t.Fatalf("cleanup left %+v", rt)
	}
}

// TestDockerRestartLatency measures, on real Docker, the detection latency
// (the engine's exit, as Docker records it, → container_exited) and the
// restart latency (container_exited → the new container running, less the
// backoff) at a 1 s and the default 10 s backoff, and bounds them.
func TestDockerRestartLatency(t *testing.T) {
	for _, tc := range []struct {
		backoff string
		samples int
	}{{"1s", 5}, {"10s", 2}} {
		t.Run("backoff "+tc.backoff, func(t *testing.T) {
			inst, r, image := restartInstance(t, tc.backoff, map[string]string{
				// The fallback reconcile pass must not be what detects the exit.
				"RTMANAGER_RECONCILE_INTERVAL": "1m"})
			backoff, _ := time.ParseDuration(tc.backoff)
			var detect, restart []time.Duration
			for range tc.samples {
				g := dockerGame(t, "rs-lat")
				first := startPolicy(t, inst, g, image, nil, map[string]any{"mode": "on_failure"})
				docker(t, "kill", first.ContainerID)
				exit, _ := r.awaitEvent(t, g, "container_exited", first.ContainerID)
				finished, err := time.Parse(time.RFC3339Nano, docker(t, "inspect", "-f", "{{.State.FinishedAt}}", first.ContainerID))
				if err != nil {
					t.Fatalf("FinishedAt: %v", err)
				}
				rt := awaitStatus(t, inst, g, "running", opWait+backoff)
				if rt.StartedAt == nil {
					t.Fatalf("restarted runtime without started_at: %+v", rt)
				}
				detect = append(detect, occurred(t, exit).Sub(finished))
				restart = append(restart, rt.StartedAt.Sub(occurred(t, exit))-backoff)
				stopGame(t, inst, g)
			}
			t.Logf("backoff %s: detection (exit → container_exited) %v; restart (container_exited → running, less the backoff) %v",
				tc.backoff, detect, restart)
			for i := range detect {
				if detect[i] > 3*time.Second || restart[i] > 10*time.Second || restart[i] < 0 {
					t.Errorf("sample %d: detection %s, restart overhead %s (bounds 3s, 0..10s)", i, detect[i], restart[i])
				}
			}
		})
	}
}
