package probe_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/probe"
)

func mustNew(tb testing.TB, cfg probe.Config) *probe.Prober {
	tb.Helper()
	p, err := probe.New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return p
}

// server returns the host:port of a test server answering path with status.
func server(tb testing.TB, handler http.HandlerFunc) string {
	tb.Helper()
	srv := httptest.NewServer(handler)
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestProbe(t *testing.T) {
	var gotPath string
	ready := server(t, func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		w.WriteHeader(http.StatusNoContent)
	})
	failing := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "warming up", http.StatusServiceUnavailable)
	})
	redirect := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	slow := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})

	p := mustNew(t, probe.Config{Timeout: 200 * time.Millisecond})
	tests := []struct {
		name     string
		endpoint string
		wantErr  string
	}{
		{"ready", ready, ""},
		{"status", failing, "status 503"},
		{"redirect", redirect, "status 302"},
		{"timeout", slow, "no answer within 200ms"},
		{"refused", "127.0.0.1:1", "connect"},
		{"not host port", "127.0.0.1", "not host:port"},
		{"path injection", "127.0.0.1:80/x", "not host:port"},
		{"remote", "10.1.2.3:8080", "not a loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			err := p.Probe(context.Background(), tt.endpoint)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Probe = %v, want ready", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Probe = %v, want an error containing %q", err, tt.wantErr)
			}
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("Probe took %s", d)
			}
		})
	}
	if gotPath != probe.DefaultPath {
		t.Errorf("probed path %q, want %q", gotPath, probe.DefaultPath)
	}
}

func TestRemoteRefusedUnlessAllowed(t *testing.T) {
	p := mustNew(t, probe.Config{})
	err := p.Probe(context.Background(), "192.0.2.1:8080")
	if !errors.Is(err, probe.ErrNotLoopback) {
		t.Fatalf("Probe = %v, want ErrNotLoopback", err)
	}
	// localhost and IPv6 loopback count as loopback.
	for _, ep := range []string{"localhost:1", "[::1]:1"} {
		if err := p.Probe(context.Background(), ep); errors.Is(err, probe.ErrNotLoopback) {
			t.Errorf("Probe(%s) = %v, want a connection error", ep, err)
		}
	}
	allowed := mustNew(t, probe.Config{AllowRemote: true, Timeout: 100 * time.Millisecond})
	if err := allowed.Probe(context.Background(), "192.0.2.1:8080"); errors.Is(err, probe.ErrNotLoopback) {
		t.Fatalf("AllowRemote still refused: %v", err)
	}
}

func TestCustomPathAndContext(t *testing.T) {
	ep := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			http.NotFound(w, r)
		}
	})
	p := mustNew(t, probe.Config{Path: "/ready"})
	if err := p.Probe(context.Background(), ep); err != nil {
		t.Fatalf("Probe = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Probe(ctx, ep); err == nil {
		t.Fatal("Probe with a cancelled context succeeded")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []probe.Config{{Path: "healthz"}, {Path: "/a b"}, {Path: "/x?y"}, {Timeout: -time.Second}} {
		if _, err := probe.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestRemoteAllowedAsked: a non-loopback endpoint is refused unless
// RemoteAllowed (the driver's Capabilities.RemoteEndpoints) says yes, and
// loopback endpoints never ask.
func TestRemoteAllowedAsked(t *testing.T) {
	asked := 0
	answer := false
	p := mustNew(t, probe.Config{Timeout: 100 * time.Millisecond, RemoteAllowed: func(context.Context) bool {
		asked++
		return answer
	}})
	if err := p.Probe(context.Background(), "203.0.113.9:8080"); !errors.Is(err, probe.ErrNotLoopback) || asked != 1 {
		t.Fatalf("Probe with RemoteAllowed false = %v (asked %d), want ErrNotLoopback after one question", err, asked)
	}
	_ = p.Probe(context.Background(), "127.0.0.1:1")
	if asked != 1 {
		t.Errorf("a loopback endpoint asked RemoteAllowed")
	}
	answer = true
	// The port-0 address is refused by the kernel without leaving the host.
	if err := p.Probe(context.Background(), "0.0.0.0:0"); errors.Is(err, probe.ErrNotLoopback) || asked != 2 {
		t.Fatalf("Probe with RemoteAllowed true = %v (asked %d), want it let through", err, asked)
	}
}
