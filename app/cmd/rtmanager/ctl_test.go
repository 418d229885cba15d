package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// newServer serves the REST API over fakes on 127.0.0.1 and returns its
// address; token empty means no auth.
func newServer(t *testing.T, token string) string {
	t.Helper()
	store := memory.NewStore()
	drv := fakedriver.New(nil)
	drv.AddImage("engine:1", fakedriver.Behavior{})
	drv.AddImage("engine:2", fakedriver.Behavior{})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Leases: memory.NewLeases(nil),
		Driver: drv, Health: memory.NewHealthRecorder(), Snapshots: store, Prober: drv.Prober(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rest.New(rest.Config{Services: svc, Store: store, Token: token, Logger: log}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCtl(t *testing.T) {
	addr := newServer(t, "s3cret")
	t.Setenv("RTMANAGER_API_TOKEN", "s3cret")
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"ctl", "--addr", addr, "--admin", "alice"}, args...), &out, &errb)
		return out.String(), err
	}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"start", "g1", "engine:1", "MODE=ranked"}, `"status": "running"`},
		{[]string{"get", "g1"}, `"image_ref": "engine:1"`},
		{[]string{"patch", "g1", "engine:2"}, `"image_ref": "engine:2"`},
		{[]string{"restart", "g1"}, `"generation": 3`},
		{[]string{"list"}, "g1"},
		{[]string{"list", "running"}, "engine:2"},
		{[]string{"stop", "g1"}, `"status": "stopped"`},
		{[]string{"cleanup", "g1"}, `"status": "removed"`},
		{[]string{"-o", "json", "ops", "g1", "3"}, `"op_source": "admin"`},
		{[]string{"ops", "g1", "3"}, "cleanup  admin"},
	}
	for _, s := range steps {
		out, err := run(s.args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("ctl %v = %v\n%s\nwant %q", s.args, err, out, s.want)
		}
	}
	if out, _ := run("-o", "json", "ops", "g1", "1"); !strings.Contains(out, `"source_ref": "alice"`) {
		t.Errorf("the admin user is not in the audit log:\n%s", out)
	}
	for _, bad := range [][]string{{"stop", "g1", "bored"}, {"get", "nope"}, {"start", "g1"}, {"start", "g1", "engine:1", "NOEQ"}, {"fly"}, {},
		{"-o", "yaml", "list"}, {"logs"}, {"logs", "--tail", "x", "g1"}, {"stats"}} {
		if _, err := run(bad...); err == nil {
			t.Errorf("ctl %v succeeded", bad)
		}
	}
	if _, err := run("get", "nope"); err == nil || !strings.HasPrefix(err.Error(), "not_found") {
		t.Errorf("error = %v, want the API's code first", err)
	}
	// The fake driver has no image store: ctl pull reaches the API and
	// shows its answer (the real pulls are in app's registry tests).
	if _, err := run("pull", "engine:1"); err == nil || !strings.HasPrefix(err.Error(), "unsupported") {
		t.Errorf("ctl pull on a driver without images = %v, want unsupported", err)
	}
	if _, err := run("pull"); err == nil {
		t.Error("ctl pull without an image succeeded")
	}
	// The fake driver has neither logs nor stats.
	run("start", "g2", "engine:1")
	for _, args := range [][]string{{"logs", "g2"}, {"logs", "-f", "g2"}, {"stats", "g2"}} {
		if _, err := run(args...); err == nil || !strings.HasPrefix(err.Error(), "unsupported") {
			t.Errorf("ctl %v = %v, want unsupported", args, err)
		}
	}
	t.Setenv("RTMANAGER_API_TOKEN", "wrong")
	if _, err := run("list"); err == nil || !strings.HasPrefix(err.Error(), "unauthorized") {
		t.Errorf("bad token = %v", err)
	}
}

// TestCtlWithoutToken: ctl works against a token-less server given its
// listen address, even a wildcard one (it dials loopback, so its Host is
// served and its X-Admin-User is trusted), and sends JSON POSTs.
func TestCtlWithoutToken(t *testing.T) {
	_, port, _ := net.SplitHostPort(newServer(t, ""))
	t.Setenv("RTMANAGER_API_TOKEN", "")
	t.Setenv("RTMANAGER_HTTP_ADDR", "0.0.0.0:"+port)
	for _, args := range [][]string{{"start", "g1", "engine:1"}, {"restart", "g1"}, {"stop", "g1"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), append([]string{"ctl", "--admin", "carol"}, args...), &out, &errb); err != nil {
			t.Fatalf("ctl %v: %v", args, err)
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"ctl", "-o", "json", "ops", "g1", "1"}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), `"op_source": "admin"`) || !strings.Contains(out.String(), `"source_ref": "carol"`) {
		t.Errorf("ctl ops = %v\n%s", err, out.String())
	}
	for addr, want := range map[string]string{"0.0.0.0:8080": "127.0.0.1:8080", ":8080": "127.0.0.1:8080",
		"[::]:8080": "[::1]:8080", "rtm.example:8080": "rtm.example:8080", "127.0.0.1:1": "127.0.0.1:1"} {
		if got := dialAddr(addr); got != want {
			t.Errorf("dialAddr(%q) = %q, want %q", addr, got, want)
		}
	}
}
