package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/app/config"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestCtlLogsStatsDocker: ctl logs, logs -f and stats against rtmanager
// serving on Docker, in a deployment scope of its own (no other instance
// on the Docker host takes its engine for an orphan).
func TestCtlLogsStatsDocker(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	env := map[string]string{"RTMANAGER_HTTP_ADDR": "127.0.0.1:0", "RTMANAGER_EMBEDDED_REDIS_ADDR": "127.0.0.1:0",
		"RTMANAGER_DATA_DIR": t.TempDir(), "RTMANAGER_DOCKER_HOST": host, "RTMANAGER_STOP_TIMEOUT": "2s",
		"RTMANAGER_SCOPE": "ctl" + testenv.RandomSuffix(4)}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatal(err)
	}
	m := app.New(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), "test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done; m.Close() }()
	game := "ctl-obs-" + testenv.RandomSuffix(3)
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=rtmanager.game_id="+game).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	t.Setenv("RTMANAGER_API_TOKEN", "")
	ctl := func(ctx context.Context, w io.Writer, args ...string) error {
		return run(ctx, append([]string{"ctl", "--addr", m.Addr()}, args...), w, io.Discard)
	}
	var out bytes.Buffer
	if err := ctl(ctx, &out, "start", game, image); err != nil {
		t.Fatalf("ctl start: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out.Reset()
		err := ctl(ctx, &out, "logs", "--tail", "all", game)
		if err == nil && strings.Contains(out.String(), "listening on") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ctl logs = %v %q", err, out.String())
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	out.Reset()
	if err := ctl(ctx, &out, "stats", game); err != nil || !strings.Contains(out.String(), "MEMORY") || !strings.Contains(out.String(), game) ||
		!strings.Contains(out.String(), "iB") {
		t.Errorf("ctl stats = %v\n%s", err, out.String())
	}
	// Follow, then stop the game: ctl logs -f returns by itself.
	var follow testenv.Buffer
	fdone := make(chan error, 1)
	go func() { fdone <- ctl(ctx, &follow, "logs", "-f", "--tail", "1", game) }()
	for !strings.Contains(follow.String(), "listening on") {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("ctl logs -f wrote %q", follow.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	if err := ctl(ctx, io.Discard, "stop", game); err != nil {
		t.Fatalf("ctl stop: %v", err)
	}
	select {
	case err := <-fdone:
		if err != nil || !strings.Contains(follow.String(), "shutting down") {
			t.Errorf("ctl logs -f = %v, wrote %q", err, follow.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ctl logs -f did not return when the game stopped")
	}
}
