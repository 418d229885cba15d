package pluginhost_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
)

// binDir holds the plugin binaries the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv(envEcho) != "" {
		runEcho() // this process is the far end of BenchmarkSocketFloor
		return
	}
	if os.Getenv(envManager) != "" {
		runManager() // this process plays a manager for TestManagerCrash
		return
	}
	dir, err := os.MkdirTemp("", "rtm-pluginhost-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// buildPlugin builds the main package pkg (relative to the module root)
// once per test process and returns the binary's path.
func buildPlugin(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command(goBin, "build", "-o", bin, "./"+pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

// processPlugin returns the path of the shipped process plugin.
func processPlugin(tb testing.TB) string {
	return buildPlugin(tb, "plugins/process/cmd/rtmanager-plugin-process")
}

// testLogger logs at warn and above, enough to see plugin trouble.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newHost starts a host for cfg and closes it when tb ends.
func newHost(tb testing.TB, cfg pluginhost.Config) *pluginhost.Host {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if cfg.UnixSocketDir == "" {
		cfg.UnixSocketDir = tb.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := pluginhost.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("pluginhost.New: %v", err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// killPlugin SIGKILLs h's plugin process, as a crash would.
func killPlugin(tb testing.TB, h *pluginhost.Host) {
	tb.Helper()
	if _, err := h.KillPlugin(); err != nil {
		tb.Fatalf("kill plugin: %v", err)
	}
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}
