package docker_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// isoSpec is the spec of one engine of game in scope "iso", named by core.
func isoSpec(image, game string, gen int64, env map[string]string) ports.ContainerSpec {
	return ports.ContainerSpec{
		Name: core.ContainerName("iso", game, gen), Image: image, Env: env, Port: 8080,
		Labels: map[string]string{ports.LabelGameID: game, ports.LabelGeneration: fmt.Sprint(gen),
			ports.LabelImageRef: image, ports.LabelScope: "iso"},
	}
}

// isoFixture returns the Docker host, the engine image, a driver and a
// fresh game id whose containers are removed when t ends.
func isoFixture(t *testing.T, prefix string) (string, string, *docker.Driver, string) {
	t.Helper()
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	d := newDriver(t, host)
	game := prefix + "-" + testenv.RandomSuffix(4)
	t.Cleanup(func() { removeGame(t, d, game) })
	return host, image, d, game
}

func startOK(t *testing.T, d ports.RuntimeDriver, spec ports.ContainerSpec) ports.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start(%s): %v", spec.Name, err)
	}
	return c
}

// TestEngineNetworkIsolated: engines sit on the "rtmanager" bridge with
// inter-container traffic off, so one engine cannot open a connection to
// another's port, while the host reaches both published endpoints.
func TestEngineNetworkIsolated(t *testing.T) {
	host, image, d, game := isoFixture(t, "iso")
	a := startOK(t, d, isoSpec(image, game, 1, nil))
	b := startOK(t, d, isoSpec(image, game, 2, nil))
	for _, c := range []ports.Container{a, b} {
		if code, body := awaitHealthy(t, c.Endpoint); code != http.StatusOK {
			t.Fatalf("host cannot reach engine %s at %s: %d %s", c.Name, c.Endpoint, code, body)
		}
	}

	cli := newClient(t, host)
	ctx := t.Context()
	net, err := cli.NetworkInspect(ctx, docker.DefaultNetwork, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatalf("inspect network %s: %v", docker.DefaultNetwork, err)
	}
	if net.Network.Driver != "bridge" || net.Network.Options["com.docker.network.bridge.enable_icc"] != "false" {
		t.Errorf("network %s: driver %s options %v, want a bridge with enable_icc=false", docker.DefaultNetwork, net.Network.Driver, net.Network.Options)
	}
	got, err := cli.ContainerInspect(ctx, a.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep := got.Container.NetworkSettings.Networks[docker.DefaultNetwork]
	if ep == nil || !ep.IPAddress.IsValid() || len(got.Container.NetworkSettings.Networks) != 1 {
		t.Fatalf("engine %s networks %v, want only %s", a.Name, got.Container.NetworkSettings.Networks, docker.DefaultNetwork)
	}
	target := ep.IPAddress.String() + ":8080"
	// The control: the host itself reaches a's port on the bridge.
	if code, body := testenv.EngineCall(t, http.MethodGet, target, "/healthz"); code != http.StatusOK {
		t.Fatalf("host -> %s: %d %s", target, code, body)
	}
	if code, body := testenv.EngineCall(t, http.MethodGet, b.Endpoint, "/dial?addr="+target); code != http.StatusBadGateway {
		t.Errorf("engine %s dialled engine %s at %s: %d %s, want it refused (502)", b.Name, a.Name, target, code, body)
	}
}

// TestEngineUserAndReadOnlyRoot: spec.User is the uid:gid the engine runs
// as, and spec.ReadOnlyRootFS refuses writes outside the tmpfs /tmp.
func TestEngineUserAndReadOnlyRoot(t *testing.T) {
	_, image, d, game := isoFixture(t, "usr")
	spec := isoSpec(image, game, 1, nil)
	spec.User, spec.ReadOnlyRootFS = "65534:65533", true
	c := startOK(t, d, spec)
	awaitHealthy(t, c.Endpoint)
	testenv.CheckEngineUserReadOnly(t, c.Endpoint, 65534, 65533)
}

// TestEngineLogsBounded: an engine writing 48 MB of output leaves at most
// 10 MB × 3 of json-file logs (plus JSON framing) on disk.
func TestEngineLogsBounded(t *testing.T) {
	host, image, d, game := isoFixture(t, "log")
	const spam = 48 << 20
	c := startOK(t, d, isoSpec(image, game, 1, map[string]string{"ENGINE_SPAM_BYTES": fmt.Sprint(spam)}))
	cli := newClient(t, host)
	got, err := cli.ContainerInspect(t.Context(), c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lc := got.Container.HostConfig.LogConfig
	if lc.Type != "json-file" || lc.Config["max-size"] != "10m" || lc.Config["max-file"] != "3" {
		t.Errorf("log config %+v, want json-file max-size=10m max-file=3", lc)
	}
	if got.Container.LogPath == "" || !strings.HasPrefix(got.Container.LogPath, "/") {
		t.Skipf("the daemon reports no log path (%q): cannot measure it from here", got.Container.LogPath)
	}
	pattern := got.Container.LogPath + "*"
	awaitHealthy(t, c.Endpoint)
	written := testenv.AwaitSpamDone(t, c.Endpoint, 2*time.Minute)
	used, files := testenv.AwaitDiskUsage(t, pattern, 40<<20, 5*time.Second)
	t.Logf("engine wrote %d MiB; %d files on disk take %.1f MiB: %v", written>>20, len(files), float64(used)/(1<<20), baseNames(files))
	if used > 40<<20 {
		t.Errorf("engine logs take %.1f MiB on disk, want <= 40 MiB", float64(used)/(1<<20))
	}
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// awaitHealthy polls the engine's /healthz until it answers 200 or a
// minute passes, and returns the last answer.
func awaitHealthy(t *testing.T, endpoint string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
				return resp.StatusCode, resp.Status
			}
		} else if time.Now().After(deadline) {
			return 0, err.Error()
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}
