package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	client "github.com/containerd/containerd/v2/client"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// testNamespace is the containerd namespace of this test process; TestMain
// deletes it with its images when the tests end.
var testNamespace = "rtmtest-" + testenv.RandomSuffix(4)

// stateDir is the driver state directory shared by every driver instance
// of this test process, as instances of one manager would share it.
var stateDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rtm-containerd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stateDir = dir
	code := m.Run()
	if err := dropNamespace(); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup namespace %s: %v\n", testNamespace, err)
		if code == 0 {
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	image := engineImage(t)
	drivertest.Run(t, drivertest.Harness{
		New:            func(t *testing.T) ports.RuntimeDriver { return newDriver(t) },
		Image:          image,
		MissingImage:   "rtmanager-missing.invalid/engine:none",
		Port:           8080,
		RestartRuntime: func(t *testing.T) { restartContainerd(t, nil) },
	})
}

// newDriver returns a driver on the test daemon and namespace, closed when
// t ends.
func newDriver(t *testing.T) *Driver {
	t.Helper()
	addr := testenv.ContainerdAddress(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := New(ctx, Config{Address: addr, Namespace: testNamespace, StateDir: stateDir})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var (
	importOnce  sync.Once
	importNames []string
	importErr   error
)

// engineImage imports the test engine tarball into the test namespace once
// and returns the short ref it was built under.
func engineImage(t *testing.T) string {
	t.Helper()
	ref := testenv.EngineImage(t)
	tarball := testenv.EngineTarball(t)
	d := newDriver(t)
	importOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		importNames, importErr = d.ImportImage(ctx, tarball)
	})
	if importErr != nil {
		t.Fatalf("ImportImage: %v", importErr)
	}
	return ref
}

// dropNamespace removes the test namespace (containers, images, the
// namespace). It does nothing when no daemon is configured.
func dropNamespace() error {
	addr := os.Getenv(testenv.EnvContainerd)
	if addr == "" {
		return nil
	}
	return testenv.DropContainerdNamespace(addr, testNamespace)
}

// servicesDir is where scripts/services.sh keeps the standalone daemon's
// pid file, config and log.
func servicesDir() string {
	if d := os.Getenv("RTM_SERVICES_DIR"); d != "" {
		return d
	}
	return "/tmp/rtm-services"
}

// restartContainerd stops the standalone containerd that
// scripts/services.sh started, runs down (when set) while it is stopped,
// starts it again exactly as the script does and returns once its socket
// answers.
func restartContainerd(t *testing.T, down func()) {
	t.Helper()
	addr := testenv.ContainerdAddress(t)
	dir := servicesDir()
	pidFile := filepath.Join(dir, "containerd.pid")
	config := filepath.Join(dir, "containerd", "config.toml")
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		testenv.Missing(t, "containerd pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("pid file %s: %v", pidFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop containerd (pid %d): %v", pid, err)
	}
	waitUntil(t, 30*time.Second, "containerd to exit", func() bool { return !alive(pid) })
	if down != nil {
		down()
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open containerd log: %v", err)
	}
	defer logFile.Close()
	cmd := exec.Command("containerd", "--config", config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatalf("write pid file: %v", err)
	}
	// The daemon outlives the test process, like the one the script started.
	go cmd.Wait()
	c, err := client.New(addr)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer c.Close()
	waitUntil(t, 30*time.Second, "containerd to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Version(ctx)
		return err == nil
	})
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// waitUntil polls cond until it holds or fails t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}
