package sdktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// NewHost starts rtmanager's plugin host for cfg and closes it when tb
// ends: the driver the suite should test, across the real go-plugin gRPC
// boundary. An empty cfg.UnixSocketDir becomes a new private directory
// (removed at the end) short enough for a socket path, which is what
// rtmanager's own tests use; rtmanager itself uses
// <RTMANAGER_DATA_DIR>/plugin-sockets.
func NewHost(tb testing.TB, cfg pluginhost.Config) *pluginhost.Host {
	tb.Helper()
	if cfg.UnixSocketDir == "" {
		dir, err := os.MkdirTemp("", "rtm-sock-")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(dir) })
		cfg.UnixSocketDir = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := pluginhost.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("start plugin %s: %v", cfg.Path, err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// RestartPlugin SIGKILLs the plugin of each host, as a crash would, and
// returns once every host runs a new plugin process. It is the
// Harness.RestartRuntime of a plugin: the driver's event stream must resume
// and its containers must be found again by the new plugin.
func RestartPlugin(tb testing.TB, hosts ...*pluginhost.Host) {
	tb.Helper()
	for _, h := range hosts {
		old, err := h.KillPlugin()
		if err != nil {
			tb.Fatalf("kill plugin: %v", err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for pid := h.PluginPID(); pid == 0 || pid == old; pid = h.PluginPID() {
			if time.Now().After(deadline) {
				tb.Fatalf("plugin %d was not respawned within 60s", old)
			}
			time.Sleep(20 * time.Millisecond) // poll interval
		}
	}
}

// BuildPlugin builds the main package pkg (a path relative to the root of
// the module the test runs in, e.g. "./cmd/myplugin") once per call into a
// temporary directory and returns the binary's path.
func BuildPlugin(tb testing.TB, pkg string) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// EngineBinary builds rtmanager's test engine (e2e/engine: serves /healthz
// and /env on $PORT, misbehaves on request through ENGINE_* variables) as
// a static linux binary and returns its path. It works from any module that
// requires rtmanager (through a replace line or a tagged release); the
// build is cached under os.TempDir by source hash.
func EngineBinary(tb testing.TB) string {
	tb.Helper()
	return testenv.EngineBinary(tb)
}

// EngineImage builds (or reuses) the Docker image of the test engine, FROM
// scratch with EngineBinary as its entrypoint, in the Docker engine at
// $RTMANAGER_TEST_DOCKER_HOST (else $DOCKER_HOST, else the default socket),
// and returns its reference, rtmanager-test-engine:latest. Without Docker
// it skips tb, or fails it when CI=true.
func EngineImage(tb testing.TB) string {
	tb.Helper()
	return testenv.EngineImage(tb)
}

// EngineTarball returns a `docker save` tarball of EngineImage, for
// runtimes that import images (`ctr images import`, `podman load`).
func EngineTarball(tb testing.TB) string {
	tb.Helper()
	return testenv.EngineTarball(tb)
}
