package rest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/testdocker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestLogsStatsOnDocker: logs and stats of a real engine on Docker, every
// answer validated against docs/openapi.yaml (text/plain logs, the Stats
// schema with its nulls).
func TestLogsStatsOnDocker(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	d := testdocker.New(t, docker.Config{Host: host})
	e := newEnv(t, options{driver: d, maxFollowers: 1})
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

	// One follower at most (maxFollowers 1): a second is refused with 503
	// and Retry-After until the first leaves.
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	follow := func(ctx context.Context) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/internal/runtimes/"+game+"/logs?follow=true&tail=1", nil)
		req.Host = "127.0.0.1"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("follow: %v", err)
		}
		return resp
	}
	fctx, fcancel := context.WithCancel(context.Background())
	first := follow(fctx)
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first follower = %d", first.StatusCode)
	}
	second := follow(context.Background())
	body, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "service_unavailable") {
		t.Errorf("second follower = %d %q (Retry-After %q), want 503 service_unavailable", second.StatusCode, body, second.Header.Get("Retry-After"))
	}
	fcancel()
	first.Body.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		resp := follow(ctx)
		code := resp.StatusCode
		cancel()
		resp.Body.Close()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a follower after the first left = %d, want 200", code)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}
