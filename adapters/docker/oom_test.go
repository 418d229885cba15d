package docker_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// forgetfulDocker serves the Docker API of dockerHost on a loopback TCP
// address, answering every container inspect with "OOMKilled":false: what
// Docker 20.10 answers for good when containerd's OOM event reaches it
// after the exit event (it happens under load). Everything else, the event
// log included, is the real daemon's.
func forgetfulDocker(t *testing.T, dockerHost string) string {
	t.Helper()
	network, addr := daemonAddr(t, dockerHost)
	inspect := regexp.MustCompile(`^(/v[0-9.]+)?/containers/[^/]+/json$`)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		FlushInterval: -1, // event streams pass at once
		ModifyResponse: func(resp *http.Response) error {
			if !inspect.MatchString(resp.Request.URL.Path) || resp.StatusCode != http.StatusOK {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			body = bytes.ReplaceAll(body, []byte(`"OOMKilled":true`), []byte(`"OOMKilled":false`))
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

// TestOOMKilledFromEventLog: an engine the kernel OOM-killed is reported
// OOMKilled by Inspect even when Docker's state lost the flag (the die/oom
// event race of Docker 20.10, forced here by the forgetful proxy), while an
// engine ended by `docker kill` is not.
func TestOOMKilledFromEventLog(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	d := newDriver(t, forgetfulDocker(t, host))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	game := "oomlog-" + testenv.RandomSuffix(3)
	start := func(name string, env map[string]string, limits ports.Limits) ports.Container {
		t.Helper()
		env["GAME_ID"] = game
		c, err := d.Start(ctx, ports.ContainerSpec{Name: "rtm-" + game + "-" + name, Image: image, Env: env, Port: 8080,
			HostIP: "127.0.0.1", Limits: limits, Labels: map[string]string{ports.LabelManaged: "true",
				ports.LabelGameID: game, ports.LabelGeneration: "1", ports.LabelImageRef: image}})
		if err != nil {
			t.Fatalf("Start %s: %v", name, err)
		}
		t.Cleanup(func() { _ = d.Remove(context.Background(), c.ID) })
		return c
	}
	exited := func(id string) ports.Container {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			c, err := d.Inspect(ctx, id)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if c.State == ports.StateExited {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still %s after 60s", id, c.State)
			}
			time.Sleep(50 * time.Millisecond) // poll interval
		}
	}

	oom := start("oom", map[string]string{"ENGINE_OOM": "1", "ENGINE_OOM_AFTER": "500ms"}, ports.Limits{MemoryBytes: 32 << 20})
	killed := start("kill", map[string]string{}, ports.Limits{MemoryBytes: 32 << 20})
	if out, err := exec.Command("docker", "kill", killed.ID).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	if c := exited(oom.ID); c.ExitCode != 137 || !c.OOMKilled {
		t.Errorf("OOM-killed engine: exit %d OOMKilled %v, want 137 true", c.ExitCode, c.OOMKilled)
	}
	began := time.Now()
	if c := exited(killed.ID); c.ExitCode != 137 || c.OOMKilled {
		t.Errorf("killed engine: exit %d OOMKilled %v, want 137 false", c.ExitCode, c.OOMKilled)
	}
	t.Logf("Inspect of an engine killed just before: %s", time.Since(began).Round(time.Millisecond))
}
