package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestLogsStatsOnDocker: logs and stats of a real engine on Docker, every
// answer validated against docs/openapi.yaml (text/plain logs, the Stats
// schema with its nulls).
func TestLogsStatsOnDocker(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := docker.New(ctx, docker.Config{Host: host})
	if err != nil {
		testenv.Missing(t, "docker at %s: %v", host, err)
	}
	t.Cleanup(func() { d.Close() })
	e := newEnv(t, options{driver: d})
	game := "rest-obs-" + testenv.RandomSuffix(3)
	res := e.call(t, http.MethodPost, "/api/v1/internal/runtimes/"+game+"/start", map[string]any{"image_ref": image})
	if res.status != http.StatusOK {
		t.Fatalf("start = %d %s", res.status, res.body)
	}
	t.Cleanup(func() {
		e.call(t, http.MethodPost, "/api/v1/internal/runtimes/"+game+"/stop", map[string]any{"reason": "admin_request"})
		e.call(t, http.MethodDelete, "/api/v1/internal/runtimes/"+game, nil)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res = e.call(t, http.MethodGet, "/api/v1/internal/runtimes/"+game+"/logs?tail=all&timestamps=true", nil)
		if res.status == http.StatusOK && strings.Contains(string(res.body), "listening on") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs = %d %q", res.status, res.body)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("logs Content-Type = %q", ct)
	}
	res = e.call(t, http.MethodGet, "/api/v1/internal/runtimes/"+game+"/stats", nil)
	var st map[string]any
	if res.status != http.StatusOK || json.Unmarshal(res.body, &st) != nil || st["memory_bytes"] == nil {
		t.Fatalf("stats = %d %s", res.status, res.body)
	}
	for _, k := range []string{"cpu_percent", "memory_limit_bytes", "pids", "net_rx_bytes", "net_tx_bytes"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stats lacks %q (null when unknown, never absent): %s", k, res.body)
		}
	}
}
