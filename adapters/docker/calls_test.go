package docker_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// callRecorder is an HTTP proxy in front of the Docker daemon that records
// the container API calls passing through it, as "METHOD /containers/…"
// with the API version and container ids or names left out.
type callRecorder struct {
	host  string
	mu    sync.Mutex
	calls []string
}

// startCallRecorder serves a recording proxy to dockerHost (unix:// or
// tcp://) until t ends.
func startCallRecorder(t *testing.T, dockerHost string) *callRecorder {
	t.Helper()
	network, addr := daemonAddr(t, dockerHost)
	dir, err := os.MkdirTemp("", "rtm-dc") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	r := &callRecorder{host: "unix://" + ln.Addr().String()}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "docker"
			r.record(pr.In.Method, pr.In.URL.Path)
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		FlushInterval: -1,
	}
	srv := &http.Server{Handler: proxy}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		os.RemoveAll(dir)
	})
	return r
}

// daemonAddr returns the network and address to dial for dockerHost
// (unix:// or tcp://).
func daemonAddr(t *testing.T, dockerHost string) (network, addr string) {
	t.Helper()
	u, err := url.Parse(dockerHost)
	if err != nil {
		t.Fatalf("parse docker host %q: %v", dockerHost, err)
	}
	if u.Scheme == "unix" {
		return u.Scheme, u.Path
	}
	return u.Scheme, u.Host
}

func (r *callRecorder) record(method, path string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) > 0 && strings.HasPrefix(parts[0], "v1.") {
		parts = parts[1:]
	}
	if len(parts) < 2 || parts[0] != "containers" {
		return
	}
	if parts[1] != "create" && parts[1] != "json" {
		parts[1] = "{id}"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, method+" /"+strings.Join(parts, "/"))
}

// take returns the calls recorded since the last take.
func (r *callRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

// TestHotPathCalls pins the Docker API calls of the lifecycle's hot path
// (issue 17, P1): a start of a new game is create, start and one inspect
// (no inspect before the create); a start of a name already running is the
// refused create and one inspect; a stop is one call (the daemon answers
// once the container has exited); a removal is one call.
func TestHotPathCalls(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	rec := startCallRecorder(t, host)
	d := newDriver(t, rec.host)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	game := "calls-" + testenv.RandomSuffix(4)
	t.Cleanup(func() { removeGame(t, d, game) })
	spec := ports.ContainerSpec{
		Name:   "rtm-" + game + "-1",
		Image:  image,
		Env:    map[string]string{"GAME_ID": game},
		Labels: map[string]string{ports.LabelGameID: game, ports.LabelGeneration: "1"},
		Port:   8080,
	}
	want := func(step string, want ...string) {
		t.Helper()
		if got := rec.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: Docker calls %q, want %q", step, got, want)
		}
	}
	c, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	want("start of a new game", "POST /containers/create", "POST /containers/{id}/start", "GET /containers/{id}/json")

	again, err := d.Start(ctx, spec)
	if err != nil || again.ID != c.ID || again.State != ports.StateRunning {
		t.Fatalf("Start again: %+v, %v; want the running %s", again, err, c.ID)
	}
	want("start of a running game", "POST /containers/create", "GET /containers/{id}/json")

	if err := d.Stop(ctx, c.ID, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	want("stop", "POST /containers/{id}/stop")
	if got, err := d.Inspect(ctx, c.ID); err != nil || got.State != ports.StateExited {
		t.Fatalf("after Stop: %+v, %v; want exited", got, err)
	}
	rec.take()

	again, err = d.Start(ctx, spec)
	if err != nil || again.ID == c.ID || again.State != ports.StateRunning {
		t.Fatalf("Start of the stopped name: %+v, %v; want a new running container", again, err)
	}
	want("start of a stopped name", "POST /containers/create", "GET /containers/{id}/json",
		"DELETE /containers/{id}", "POST /containers/create", "POST /containers/{id}/start", "GET /containers/{id}/json")

	if err := d.Remove(ctx, again.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	want("remove", "DELETE /containers/{id}")
}
