//go:build e2e

package blackbox

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/containerd"
	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// lifecycleThroughDriver runs start, probe, a second start (replay), stop
// and cleanup of one game through REST, and checks the driver's view of its
// containers with list (nil: not checked) after each step. The endpoint
// must be on 127.0.0.1 unless remote (a cluster driver's pod address).
func lifecycleThroughDriver(t *testing.T, inst *harness.Instance, g, image string, remote bool, list func() []string) {
	t.Helper()
	rt := mustOp(t, inst, g, "start", startBody(image, map[string]string{"MODE": "drv"}))
	if rt.Status != "running" || rt.Generation != 1 || (!remote && !strings.HasPrefix(rt.Endpoint, "127.0.0.1:")) || rt.Endpoint == "" {
		t.Fatalf("started %+v; want running, generation 1, an endpoint (on 127.0.0.1 unless remote %v)", rt, remote)
	}
	checkEngine(t, rt)
	st, body := engineGet(rt.Endpoint, "/env")
	var env map[string]string
	if st != http.StatusOK || json.Unmarshal([]byte(body), &env) != nil || env["MODE"] != "drv" || env["PORT"] == "" ||
		!strings.HasSuffix(rt.Endpoint, ":"+env["PORT"]) {
		t.Fatalf("engine env %d %s; want MODE=drv and PORT matching endpoint %s", st, body, rt.Endpoint)
	}
	if got := list(); len(got) != 1 || got[0] != rt.ContainerID {
		t.Fatalf("driver lists %v for %s, want [%s]", got, g, rt.ContainerID)
	}
	if a := op(t, inst, g, "start", startBody(image, nil)); a.HTTP != http.StatusOK || a.ErrorCode != "replay_no_op" {
		t.Fatalf("second start = %s, want replay_no_op", a)
	}
	stopped := mustOp(t, inst, g, "stop", stopBody)
	if stopped.Status != "stopped" || stopped.ContainerID != rt.ContainerID || stopped.Endpoint != "" {
		t.Fatalf("stopped %+v; want stopped on %s without endpoint", stopped, rt.ContainerID)
	}
	if st, _ := engineGet(rt.Endpoint, "/healthz"); st != 0 {
		t.Fatalf("the stopped engine still answers at %s (%d)", rt.Endpoint, st)
	}
	if got := list(); len(got) != 1 || got[0] != rt.ContainerID {
		t.Fatalf("driver lists %v for stopped %s, want the kept container %s", got, g, rt.ContainerID)
	}
	removed := mustOp(t, inst, g, "cleanup", nil)
	if removed.Status != "removed" {
		t.Fatalf("cleanup left %+v", removed)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("driver lists %v after cleanup, want none", got)
	}
	ops := operations(t, inst, g)
	if len(ops) != 4 {
		t.Errorf("operations %+v, want start, start (replay), stop, cleanup", ops)
	}
}

// TestContainerdDriver runs the binary with the containerd driver on the
// standalone containerd, in a namespace of its own that is dropped (with its
// containers and images) when the test ends.
func TestContainerdDriver(t *testing.T) {
	addr := testenv.ContainerdAddress(t)
	tarball := testenv.EngineTarball(t)
	ns := "rtm-bb-" + testenv.RandomSuffix(4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	d, err := containerd.New(ctx, containerd.Config{Address: addr, Namespace: ns, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("containerd driver: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	t.Cleanup(func() {
		if err := testenv.DropContainerdNamespace(addr, ns); err != nil {
			t.Errorf("drop namespace %s: %v", ns, err)
		}
	})
	if _, err := d.ImportImage(ctx, tarball); err != nil {
		t.Fatalf("import the engine image: %v", err)
	}

	env := baseEnv()
	env["RTMANAGER_DRIVER"] = "containerd"
	env["RTMANAGER_CONTAINERD_ADDRESS"] = addr
	env["RTMANAGER_CONTAINERD_NAMESPACE"] = ns
	inst := harness.Start(t, harness.Options{Env: env})

	g := harness.GameID("ctd")
	lifecycleThroughDriver(t, inst, g, testenv.EngineImage(t), false, func() []string {
		cs, err := d.List(ctx, map[string]string{"rtmanager.game_id": g, "rtmanager.managed": "true"})
		if err != nil {
			t.Fatalf("containerd list: %v", err)
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids
	})
	if a := op(t, inst, harness.GameID("ctd-miss"), "start", startBody(missingImage, nil)); a.HTTP != http.StatusUnprocessableEntity || a.Error.Code != "image_unavailable" {
		t.Errorf("start of a missing image = %s, want 422 image_unavailable", a)
	}
	t.Run("restart policy", func(t *testing.T) {
		restartThroughDriver(t, inst, harness.GameID("ctd-rs"), testenv.EngineImage(t), nil,
			func(rt runtimeView) { killEngine(t, rt.GameID) }, "killed")
	})
}

// TestPluginDriver runs the binary with the shipped process plugin, built
// here, and the test engine binary as a file:// image.
func TestPluginDriver(t *testing.T) {
	engine := testenv.EngineBinary(t)
	plugin := filepath.Join(t.TempDir(), "rtmanager-plugin-process")
	build := exec.Command("go", "build", "-o", plugin, "./plugins/process/cmd/rtmanager-plugin-process")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the process plugin: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	t.Cleanup(func() { killEngines(t, filepath.Join(dataDir, "plugin")) })

	env := baseEnv()
	env["RTMANAGER_DRIVER"] = "plugin"
	env["RTMANAGER_PLUGIN_PATH"] = plugin
	env["RTMANAGER_DATA_DIR"] = dataDir
	inst := harness.Start(t, harness.Options{Env: env})

	g := harness.GameID("plg")
	lifecycleThroughDriver(t, inst, g, "file://"+engine, false, func() []string {
		return pluginContainers(t, filepath.Join(dataDir, "plugin"), g)
	})
	if a := op(t, inst, harness.GameID("plg-miss"), "start", startBody("file:///nonexistent/engine", nil)); a.HTTP != http.StatusUnprocessableEntity || a.Error.Code != "image_unavailable" {
		t.Errorf("start of a missing executable = %s, want 422 image_unavailable", a)
	}
	t.Run("restart policy", func(t *testing.T) {
		restartThroughDriver(t, inst, harness.GameID("plg-rs"), "file://"+engine, nil,
			func(rt runtimeView) { killEngine(t, rt.GameID) }, "killed")
	})
}

// processState is the part of a process plugin container file the test
// reads.
type processState struct {
	ID     string            `json:"id"`
	Pid    int               `json:"pid"`
	State  string            `json:"state"`
	Labels map[string]string `json:"labels"`
}

// pluginStates reads the process plugin's container files in dir.
func pluginStates(t *testing.T, dir string) []processState {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatalf("glob %s: %v", dir, err)
	}
	var out []processState
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // removed meanwhile
		}
		var s processState
		if json.Unmarshal(b, &s) == nil && s.ID != "" {
			out = append(out, s)
		}
	}
	return out
}

// pluginContainers lists the ids of the game's containers the process
// plugin keeps in dir (its state dir is the runtime).
func pluginContainers(t *testing.T, dir, game string) []string {
	t.Helper()
	var ids []string
	for _, s := range pluginStates(t, dir) {
		if s.Labels["rtmanager.game_id"] == game {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// killEngines kills the process group of every engine the plugin still
// records as running, so a failed test leaves no process behind.
func killEngines(t *testing.T, dir string) {
	for _, s := range pluginStates(t, dir) {
		if s.State == "running" && s.Pid > 1 {
			t.Logf("killing leftover engine %s (pid %d)", s.ID, s.Pid)
			_ = syscall.Kill(-s.Pid, syscall.SIGKILL)
		}
	}
}

// moduleRoot returns the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
