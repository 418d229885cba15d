package pluginhost_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

// Environment of the manager process TestManagerCrash starts.
const (
	envManager = "RTM_TEST_MANAGER"
	envPlugin  = "RTM_TEST_MANAGER_PLUGIN"
	envState   = "RTM_TEST_MANAGER_STATE"
	envImage   = "RTM_TEST_MANAGER_IMAGE"
	envSockets = "RTM_TEST_MANAGER_SOCKETS"
)

// runManager plays a manager: it starts a host and an engine, prints
// "READY <plugin pid> <container id> <endpoint>", and waits to be killed.
func runManager() {
	ctx := context.Background()
	h, err := pluginhost.New(ctx, pluginhost.Config{
		Path: os.Getenv(envPlugin), StateDir: os.Getenv(envState), Logger: testLogger(),
		UnixSocketDir: os.Getenv(envSockets),
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	c, err := h.Start(ctx, ports.ContainerSpec{
		Name: "crash-manager-1", Image: os.Getenv(envImage), HostIP: "127.0.0.1",
		Labels: map[string]string{ports.LabelGameID: "crash-manager"},
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", h.PluginPID(), c.ID, c.Endpoint)
	select {}
}

// procAlive reports whether pid runs and is not a zombie.
func procAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// TestManagerCrash SIGKILLs a manager process while its engine runs: its
// plugin notices the host is gone and exits (removing its socket), the engine keeps running, and
// a new host (a restarted manager) finds the engine running and removes it.
func TestManagerCrash(t *testing.T) {
	bin, state, image, sockets := processPlugin(t), t.TempDir(), engineImageRef(t), t.TempDir()
	mgr := exec.Command(os.Args[0], "-test.run=^$")
	mgr.Env = append(os.Environ(), envManager+"=1", envPlugin+"="+bin, envState+"="+state, envImage+"="+image, envSockets+"="+sockets)
	mgr.Stderr = os.Stderr
	out, err := mgr.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Process.Kill(); _ = mgr.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read manager: %v", err)
	}
	var pluginPID int
	var id, endpoint string
	if _, err := fmt.Sscanf(line, "READY %d %s %s", &pluginPID, &id, &endpoint); err != nil {
		t.Fatalf("manager said %q: %v", line, err)
	}
	t.Cleanup(func() { removeLeftover(t, state, id) })
	waitFor(t, 30*time.Second, "engine healthy", func() bool { return healthy(endpoint) })

	if err := mgr.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = mgr.Wait()
	waitFor(t, 15*time.Second, "the orphaned plugin to exit", func() bool { return !procAlive(pluginPID) })
	if !healthy(endpoint) {
		t.Fatalf("the engine died with its manager")
	}
	// The plugin removed its own socket before exiting: left for the next
	// host, a socket whose process was still exiting (the thread group
	// leader a zombie, other threads still holding the listening fd)
	// accepted that host's probe and so was kept.
	if left, _ := filepath.Glob(filepath.Join(sockets, "plugin*")); len(left) != 0 {
		t.Errorf("sockets after the orphaned plugin exited: %v, want none", left)
	}

	h := newHost(t, pluginhost.Config{Path: bin, StateDir: state, UnixSocketDir: sockets})
	if left, _ := filepath.Glob(filepath.Join(sockets, "plugin*")); len(left) != 1 {
		t.Errorf("sockets after the restart: %v, want only the new plugin's (the dead one's is stale)", left)
	}
	c, err := h.Inspect(ctxT(t), id)
	if err != nil || c.State != ports.StateRunning || c.Endpoint != endpoint {
		t.Fatalf("Inspect by the restarted manager = %+v, %v; want running at %s", c, err, endpoint)
	}
	if err := h.Remove(ctxT(t), id); err != nil {
		t.Fatalf("Remove by the restarted manager: %v", err)
	}
	waitFor(t, 10*time.Second, "the engine to stop answering", func() bool { return !healthy(endpoint) })
}

// removeLeftover removes container id from state with an in-process
// driver, so a failed test leaves no engine running.
func removeLeftover(t *testing.T, state, id string) {
	d, err := process.New(process.Config{StateDir: state, Logger: testLogger()})
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Remove(ctx, id); err != nil {
		t.Errorf("cleanup: remove %s: %v", id, err)
	}
}
