package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "v9.8.7", "0123456789abcdef"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	want := "rtmanager v9.8.7 (revision 0123456789abcdef, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if out.String() != want {
		t.Errorf("version = %q, want %q", out.String(), want)
	}
	revision = ""
	if got := buildRevision(); got == "" {
		t.Error("unstamped revision is empty, want the VCS revision or unknown")
	}
}

func TestHealthURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		":9000":          "http://127.0.0.1:9000/healthz",
		"[::]:9000":      "http://[::1]:9000/healthz",
		"rtm.local:80":   "http://rtm.local:80/healthz",
	} {
		if got, err := healthURL(addr); err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := healthURL("nonsense"); err == nil {
		t.Error("healthURL(nonsense) succeeded")
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	ctx := context.Background()
	var out bytes.Buffer

	// Through the configuration, as the image's HEALTHCHECK runs it.
	t.Setenv("RTMANAGER_HTTP_ADDR", srv.Listener.Addr().String())
	if err := run(ctx, []string{"healthcheck"}, &out, &out); err != nil {
		t.Errorf("healthcheck of a healthy server: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := run(ctx, []string{"healthcheck"}, &out, &out); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a 503 server = %v, want an error naming 503", err)
	}
	status = http.StatusOK
	if err := run(ctx, []string{"healthcheck", "--url", srv.URL + "/healthz"}, &out, &out); err != nil {
		t.Errorf("healthcheck --url: %v", err)
	}

	// Nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	t.Setenv("RTMANAGER_HTTP_ADDR", dead)
	if err := run(ctx, []string{"healthcheck"}, &out, &out); err == nil {
		t.Error("healthcheck with nothing listening succeeded")
	}
	t.Setenv("RTMANAGER_HTTP_ADDR", "nonsense")
	if err := run(ctx, []string{"healthcheck"}, &out, &out); err == nil || !strings.Contains(err.Error(), "RTMANAGER_HTTP_ADDR") {
		t.Errorf("healthcheck with a bad address = %v, want an error naming the key", err)
	}
}
