package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/app/config"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// scopeSalt makes testScope's scopes differ between test processes.
var scopeSalt = testenv.RandomSuffix(4)

// testScope is the deployment scope of t's instances: one per test, so
// the instances one test opens share it, and no instance of another test,
// package or run on the Docker host (a reconciler in the default scope
// with a short orphan grace, e.g. e2e/faults) takes t's engines for
// orphans and removes them.
func testScope(t *testing.T) string {
	h := fnv.New32a()
	h.Write([]byte(scopeSalt + t.Name()))
	return fmt.Sprintf("app%08x", h.Sum32())
}

func load(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	base := map[string]string{
		"RTMANAGER_HTTP_ADDR":           "127.0.0.1:0",
		"RTMANAGER_EMBEDDED_REDIS_ADDR": "127.0.0.1:0",
		"RTMANAGER_SCOPE":               testScope(t),
		"RTMANAGER_DATA_DIR":            t.TempDir(),
		"RTMANAGER_STOP_TIMEOUT":        "2s",
		"RTMANAGER_SHUTDOWN_TIMEOUT":    "20s",
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := base[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func post(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func removeGames(t *testing.T, games ...string) {
	t.Cleanup(func() {
		for _, g := range games {
			out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=rtmanager.game_id="+g).Output()
			for _, id := range strings.Fields(string(out)) {
				_ = exec.Command("docker", "rm", "-f", id).Run()
			}
		}
	})
}

// TestServeAndGracefulShutdown runs Main on the embedded defaults with the
// Docker driver, starts a game, then shuts down while a slow start is in
// flight: the start finishes (it is not cut off), Run returns, and the
// store holds the truth. Its engines are in the test's own deployment
// scope (load), so no other instance on the Docker host takes them for
// orphans.
func TestServeAndGracefulShutdown(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	cfg := load(t, map[string]string{"RTMANAGER_DOCKER_HOST": host})
	m := app.New(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), "test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer m.Close()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	base := "http://" + m.Addr() + "/api/v1/internal/runtimes/"
	fast, slow := "app-fast-"+testenv.RandomSuffix(3), "app-slow-"+testenv.RandomSuffix(3)
	removeGames(t, fast, slow)

	if st, res := post(t, base+fast+"/start", map[string]any{"image_ref": image}); st != 200 {
		t.Fatalf("start = %d %v", st, res)
	}
	slowDone := make(chan int, 1)
	go func() {
		st, _ := post(t, base+slow+"/start", map[string]any{"image_ref": image, "env": map[string]string{"ENGINE_START_DELAY": "1500ms"}})
		slowDone <- st
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rec, err := m.Store().Get(ctx, slow); err == nil && rec.Status == core.StatusStarting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow start never reserved its generation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(cfg.ShutdownTimeout + 10*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if st := <-slowDone; st != 200 {
		t.Errorf("the in-flight start was cut off: HTTP %d", st)
	}
	t.Logf("graceful shutdown with a start in flight took %s", time.Since(began))
	rec, err := m.Store().Get(context.Background(), slow)
	if err != nil || rec.Status != core.StatusRunning {
		t.Errorf("slow game after shutdown = %+v, %v", rec, err)
	}
}

// TestServesWhileRuntimeDown: a runtime that does not answer at start-up is
// not a reason to exit (a fresh machine may start rtmanager before Docker):
// Open succeeds, readiness names the driver, operations answer
// service_unavailable, and nothing is written.
func TestServesWhileRuntimeDown(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"docker":     {"RTMANAGER_DOCKER_HOST": "unix:///nonexistent/docker.sock"},
		"containerd": {"RTMANAGER_DRIVER": "containerd", "RTMANAGER_CONTAINERD_ADDRESS": "/nonexistent/containerd.sock"},
	} {
		t.Run(name, func(t *testing.T) {
			m := app.New(load(t, env), slog.New(slog.NewJSONHandler(io.Discard, nil)), "test")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := m.Open(ctx); err != nil {
				t.Fatalf("Open with the runtime down: %v", err)
			}
			defer m.Close()
			if err := m.Ready(ctx); err == nil || !strings.Contains(err.Error(), "driver") {
				t.Errorf("Ready = %v, want the driver named", err)
			}
			res, err := m.Services().Start.Handle(ctx, lifecycle.StartInput{GameID: "g1", ImageRef: "engine:1",
				Meta: lifecycle.Meta{Source: core.SourceREST}})
			if err != nil || res.ErrorCode != core.CodeServiceUnavailable {
				t.Errorf("start = %+v, %v; want service_unavailable", res, err)
			}
			if _, err := m.Store().Get(ctx, "g1"); err == nil {
				t.Error("a start against a down runtime wrote a record")
			}
		})
	}
}

func TestOpenFailsClearly(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"unreachable redis": {map[string]string{"RTMANAGER_REDIS_URL": "redis://127.0.0.1:1/0"}, "redis"},
		"unreachable postgres": {map[string]string{"RTMANAGER_DATABASE_URL": "postgres://x:y@127.0.0.1:1/db?connect_timeout=1"},
			"migrate"},
		"plugin missing": {map[string]string{"RTMANAGER_DRIVER": "plugin", "RTMANAGER_PLUGIN_PATH": "/nonexistent/plugin"}, "driver plugin"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := app.New(load(t, c.env), slog.New(slog.NewJSONHandler(io.Discard, nil)), "test")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := m.Open(ctx)
			if err == nil {
				m.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}

// TestWarnsEmbeddedRedisWithSharedDatabase: PostgreSQL with the embedded
// Redis gets a warning at Open (the leases would be this instance's
// alone, and a second instance on the database would not be excluded from
// its games); SQLite with the embedded Redis, the single-instance default,
// does not.
func TestWarnsEmbeddedRedisWithSharedDatabase(t *testing.T) {
	for name, c := range map[string]struct {
		db   func(tb testing.TB) string
		warn bool
	}{
		"postgres": {db: testenv.PostgresURL, warn: true},
		"sqlite":   {db: func(tb testing.TB) string { return "sqlite://" + tb.TempDir() + "/rtm.db" }},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			m := app.New(load(t, map[string]string{"RTMANAGER_DATABASE_URL": c.db(t),
				"RTMANAGER_DOCKER_HOST": "unix:///nonexistent/docker.sock"}),
				slog.New(slog.NewJSONHandler(&logs, nil)), "test")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := m.Open(ctx); err != nil {
				t.Fatalf("Open: %v", err)
			}
			m.Close()
			if got := strings.Contains(logs.String(), "RTMANAGER_REDIS_URL is embedded but the database is PostgreSQL"); got != c.warn {
				t.Errorf("warned %v, want %v; log:\n%s", got, c.warn, logs.String())
			}
		})
	}
}
