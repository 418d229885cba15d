package rest_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestLogsStatsUnsupported: a driver without the capabilities (the fake
// driver, like a v1 plugin) answers unsupported, HTTP 501, as documented.
func TestLogsStatsUnsupported(t *testing.T) {
	e := newEnv(t, options{})
	e.mustStart(t, "g1", imageOK)
	for _, path := range []string{"/logs", "/logs?follow=true", "/stats"} {
		res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes/g1"+path, nil)
		if res.status != http.StatusNotImplemented || res.code(t) != "unsupported" {
			t.Errorf("GET %s = %d %s, want 501 unsupported", path, res.status, res.body)
		}
	}
}

// TestLogsStatsBadInput: bad parameters are invalid_request (400) before
// any driver call, an unknown game is not_found, and a game without a
// container (stopped then removed) is not_found.
func TestLogsStatsBadInput(t *testing.T) {
	e := newEnv(t, options{})
	e.mustStart(t, "g1", imageOK)
	for _, q := range []string{"tail=-1", "tail=10001", "tail=ten", "follow=yes", "timestamps=1",
		"since=yesterday", "tail=1&tail=2", "colour=red"} {
		res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes/g1/logs?"+q, nil)
		if res.status != http.StatusBadRequest || res.code(t) != "invalid_request" {
			t.Errorf("logs?%s = %d %s, want 400 invalid_request", q, res.status, res.body)
		}
	}
	if res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes/g1/stats?x=1", nil); res.status != http.StatusBadRequest {
		t.Errorf("stats?x=1 = %d %s, want 400", res.status, res.body)
	}
	for _, path := range []string{"/api/v1/internal/runtimes/nope/logs", "/api/v1/internal/runtimes/nope/stats"} {
		res := e.call(t, http.MethodGet, path, nil)
		if res.status != http.StatusNotFound || !strings.Contains(string(res.body), "has no runtime") {
			t.Errorf("GET %s = %d %s, want 404", path, res.status, res.body)
		}
	}
	if res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes/Bad!/logs", nil); res.status != http.StatusBadRequest {
		t.Errorf("logs of a bad game id = %d %s, want 400", res.status, res.body)
	}
	e.mustStop(t, "g1")
	if res := e.call(t, http.MethodDelete, "/api/v1/internal/runtimes/g1", nil); res.status != http.StatusOK {
		t.Fatalf("cleanup = %d %s", res.status, res.body)
	}
	res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes/g1/logs", nil)
	if res.status != http.StatusNotFound || !strings.Contains(string(res.body), "no container") {
		t.Errorf("logs of a removed game = %d %s, want 404 no container", res.status, res.body)
	}
}
