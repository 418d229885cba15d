//go:build e2e

package faults

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// EnvRestartDockerd enables TestDockerdRestart, which restarts the shared
// dockerd: only where nothing else uses it (CI runs e2e packages one at a
// time).
const EnvRestartDockerd = "RTMANAGER_TEST_RESTART_DOCKERD"

// dockerdPidFile is where scripts/services.sh keeps the dockerd pid.
const dockerdPidFile = "/tmp/rtm-services/dockerd.pid"

// TestDockerdRestart restarts dockerd under a running rtmanager (docker
// driver, reconciler interval 10 minutes so only driver events and probes
// can notice anything): the engine dockerd stopped on its way down must be
// tracked (container_exited or health_check_failed, record no longer
// running), operations must work again, and a container removed behind
// rtmanager's back after the restart must be reported by the resumed event
// stream (container_disappeared or container_exited).
func TestDockerdRestart(t *testing.T) {
	if os.Getenv(EnvRestartDockerd) != "1" {
		t.Skipf("restarts the shared dockerd: set %s=1 where nothing else uses it (scripts/test.sh does in CI)", EnvRestartDockerd)
	}
	image := testenv.EngineImage(t)
	prefix := harness.GameID("dockerd")
	harness.RemoveDockerContainersByPrefix(t, prefix)
	inst := harness.Start(t, harness.Options{Env: map[string]string{
		"RTMANAGER_RECONCILE_INTERVAL": "10m",
		"RTMANAGER_PROBE_INTERVAL":     "500ms",
		"RTMANAGER_PROBE_FAILURES":     "2",
		"RTMANAGER_STOP_TIMEOUT":       "2s",
		"RTMANAGER_ORPHAN_GRACE":       "1h",
	}})
	st := openStreams(t, inst.EmbeddedRedisURL())

	before := prefix + "-before"
	mustOp(t, inst, before, "start", map[string]any{"image_ref": image})

	down, back := restartDockerd(t)
	figure(t, "dockerd restart took %.1fs (SIGTERM to `docker info` answering)", back.Sub(down).Seconds())

	// The engine dockerd stopped on shutdown is tracked.
	harness.Eventually(t, 60*time.Second, "the engine stopped by dockerd tracked", func() bool {
		for _, ev := range st.healthOf(t, before) {
			if ev["event_type"] == "container_exited" || ev["event_type"] == "health_check_failed" {
				return true
			}
		}
		return false
	})
	var seen []string
	for _, ev := range st.healthOf(t, before) {
		seen = append(seen, ev["event_type"])
	}
	figure(t, "engine stopped by dockerd's shutdown: health events %v, record %s", seen, str(inst.Runtime(before), "status"))

	// Operations work again.
	after := prefix + "-after"
	began := time.Now()
	var res map[string]any
	harness.Eventually(t, 60*time.Second, "a start after the restart", func() bool {
		var code int
		code, res = inst.Op(after, "start", map[string]any{"image_ref": image})
		return code == http.StatusOK
	})
	figure(t, "first successful start %.1fs after dockerd answered again (%.1fs after the first try)",
		time.Since(back).Seconds(), time.Since(began).Seconds())

	// Driver events resumed: a container removed behind rtmanager's back is reported.
	cid := str(runtimeOf(res), "container_id")
	removed := time.Now()
	if out, err := exec.Command("docker", "rm", "-f", cid).CombinedOutput(); err != nil {
		t.Fatalf("docker rm -f: %v %s", err, out)
	}
	var got string
	harness.Eventually(t, 20*time.Second, "an event for the removed container", func() bool {
		for _, ev := range st.healthOf(t, after) {
			if ev["container_id"] == cid && (ev["event_type"] == "container_disappeared" || ev["event_type"] == "container_exited") {
				got = ev["event_type"]
				return true
			}
		}
		return false
	})
	figure(t, "after the restart, docker rm -f of an engine → %s after %.2fs; record %s",
		got, time.Since(removed).Seconds(), str(inst.Runtime(after), "status"))
	if s := str(inst.Runtime(after), "status"); s == "running" {
		t.Errorf("record of the removed engine still running")
	}
}

// restartDockerd stops the shared dockerd (SIGTERM to the pid in
// dockerdPidFile, wait for its exit) and starts it again in the background
// as scripts/services.sh does, writing the new pid to the file. It returns
// when it sent SIGTERM and when `docker info` answered again.
func restartDockerd(t *testing.T) (down, back time.Time) {
	t.Helper()
	data, err := os.ReadFile(dockerdPidFile)
	if err != nil {
		t.Fatalf("dockerd pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("dockerd pid %q: %v", data, err)
	}
	start, ok := harness.ProcStartTime(pid)
	if !ok {
		t.Fatalf("dockerd pid %d is not running", pid)
	}
	down = time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM dockerd %d: %v", pid, err)
	}
	harness.Eventually(t, 90*time.Second, "dockerd to exit", func() bool {
		s, ok := harness.ProcStartTime(pid)
		return !ok || s != start
	})
	log, err := os.OpenFile(filepath.Join(filepath.Dir(dockerdPidFile), "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("dockerd log: %v", err)
	}
	defer log.Close()
	cmd := exec.Command("dockerd", "--host", "unix:///var/run/docker.sock")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	if err := os.WriteFile(dockerdPidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatalf("write %s: %v", dockerdPidFile, err)
	}
	_ = cmd.Process.Release() // dockerd outlives the test, as services.sh's does
	harness.Eventually(t, 60*time.Second, "docker info", func() bool {
		return exec.Command("docker", "info").Run() == nil
	})
	return down, time.Now()
}

// buildPlugin builds the process plugin into a temp dir.
func buildPlugin(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "rtmanager-plugin-process")
	cmd := exec.Command("go", "build", "-o", bin, "./plugins/process/cmd/rtmanager-plugin-process")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the process plugin: %v\n%s", err, out)
	}
	return bin
}

// pluginPid returns the pid of inst's plugin process (a child of inst
// running bin), or 0.
func pluginPid(inst *harness.Instance, bin string) int {
	for _, p := range harness.ChildPids(inst.Pid()) {
		if harness.ProcExe(p) == bin {
			return p
		}
	}
	return 0
}

// enginePids returns the pids of the processes running the executable
// engine among the descendants of root.
func enginePids(root int, engine string) []int {
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range harness.ChildPids(p) {
			if harness.ProcExe(c) == engine {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(root)
	return out
}

// TestPluginKilled runs rtmanager with the process plugin, kills the plugin
// process with SIGKILL while an engine runs, and checks that operations
// answer service_unavailable (never another failure) while it is down, that
// the host starts a new plugin and operations succeed again, and that the
// running engine was untouched: same process, still healthy, its record
// still running, no exit or disappearance reported, and the new plugin can
// stop it.
func TestPluginKilled(t *testing.T) {
	plugin := buildPlugin(t)
	engine := testenv.EngineBinary(t)
	image := "file://" + engine
	inst := harness.Start(t, harness.Options{Env: map[string]string{
		"RTMANAGER_DRIVER":             "plugin",
		"RTMANAGER_PLUGIN_PATH":        plugin,
		"RTMANAGER_RECONCILE_INTERVAL": "1s",
		"RTMANAGER_PROBE_INTERVAL":     "500ms",
		"RTMANAGER_STOP_TIMEOUT":       "2s",
	}})
	st := openStreams(t, inst.EmbeddedRedisURL())

	g1 := harness.GameID("plug")
	res := mustOp(t, inst, g1, "start", map[string]any{"image_ref": image})
	rt1 := runtimeOf(res)
	t.Cleanup(func() { inst.Op(g1, "stop", map[string]any{"reason": "admin_request"}) })
	old := pluginPid(inst, plugin)
	if old == 0 {
		t.Fatalf("no plugin process below rtmanager pid %d", inst.Pid())
	}
	engines := enginePids(old, engine)
	if len(engines) != 1 {
		t.Fatalf("engine processes below the plugin: %v, want one", engines)
	}
	ePid := engines[0]
	eStart, _ := harness.ProcStartTime(ePid)
	t.Cleanup(func() { _ = syscall.Kill(ePid, syscall.SIGKILL) })

	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin %d: %v", old, err)
	}

	g2 := harness.GameID("plug")
	t.Cleanup(func() { inst.Op(g2, "stop", map[string]any{"reason": "admin_request"}) })
	answers := map[string]int{}
	var firstOK time.Duration
	harness.Eventually(t, 60*time.Second, "a start through the new plugin", func() bool {
		code, r := inst.Op(g2, "start", map[string]any{"image_ref": image})
		answers[fmt.Sprintf("%d %s", code, codeOf(r))]++
		switch {
		case code == http.StatusOK:
			firstOK = time.Since(killed)
			return true
		case code == http.StatusServiceUnavailable && codeOf(r) == "service_unavailable":
		default:
			t.Errorf("start while the plugin restarts: %d %v, want 200 or 503 service_unavailable", code, r)
		}
		time.Sleep(20 * time.Millisecond) // the retry pace
		return false
	})
	respawn := pluginPid(inst, plugin)
	if respawn == 0 || respawn == old {
		t.Errorf("plugin pid after the kill = %d (before %d), want a new process", respawn, old)
	}
	figure(t, "plugin SIGKILLed: first successful start %.2fs later; answers meanwhile %s", firstOK.Seconds(), fmtCounts(answers))

	// The engine that ran before the kill is untouched.
	if s, ok := harness.ProcStartTime(ePid); !ok || s != eStart {
		t.Errorf("engine process %d was replaced or ended", ePid)
	}
	if err := httpOK("http://" + str(rt1, "endpoint") + "/healthz"); err != nil {
		t.Errorf("engine of %s after the plugin kill: %v", g1, err)
	}
	if rt := inst.Runtime(g1); str(rt, "status") != "running" || str(rt, "container_id") != str(rt1, "container_id") {
		t.Errorf("record of %s after the plugin kill = %v, want running on %s", g1, rt, str(rt1, "container_id"))
	}
	for _, ev := range st.healthOf(t, g1) {
		if ev["event_type"] != "container_started" {
			t.Errorf("health event for the untouched engine: %v", ev)
		}
	}
	// The new plugin adopted it: it can stop it.
	if r := mustOp(t, inst, g1, "stop", map[string]any{"reason": "admin_request"}); str(runtimeOf(r), "status") != "stopped" {
		t.Errorf("stop after the plugin kill = %v", r)
	}
	harness.Eventually(t, 10*time.Second, "the adopted engine to exit", func() bool {
		s, ok := harness.ProcStartTime(ePid)
		return !ok || s != eStart
	})
	figure(t, "engine started before the kill: same pid %d, /healthz 200, record running, no exit event; stopped through the new plugin (pid %d)", ePid, respawn)
}

func httpOK(url string) error {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
