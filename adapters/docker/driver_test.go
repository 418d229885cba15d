package docker_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// missingImage lives on a registry at a closed loopback port: the pull
// fails at once and nothing beyond 127.0.0.1 is contacted.
const missingImage = "127.0.0.1:1/rtmanager/missing-engine:none"

func newDriver(t *testing.T, host string) *docker.Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := docker.New(ctx, docker.Config{Host: host, PullTimeout: 20 * time.Second})
	if err != nil {
		testenv.Missing(t, "docker at %s: %v", host, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// restartCmdEnv names a shell command that really restarts the Docker
// daemon (e.g. `systemctl restart docker` on a dedicated CI machine). Unset,
// the restart case severs every connection through a proxy instead, so the
// daemon other tests share is never restarted.
const restartCmdEnv = "RTMANAGER_TEST_DOCKER_RESTART_CMD"

// TestConformance runs the driver conformance suite against Docker, with
// every driver instance reaching the daemon through an outage proxy.
func TestConformance(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	proxy := startOutageProxy(t, host)
	restart := proxy.Restart
	if cmd := os.Getenv(restartCmdEnv); cmd != "" {
		restart = func(t *testing.T) {
			if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
				t.Fatalf("%s %q: %v\n%s", restartCmdEnv, cmd, err, out)
			}
		}
	}
	drivertest.Run(t, drivertest.Harness{
		New:            func(t *testing.T) ports.RuntimeDriver { return newDriver(t, proxy.Host()) },
		Image:          image,
		MissingImage:   missingImage,
		Port:           8080,
		RestartRuntime: restart,
	})
}

// TestHardening checks the container Docker actually created carries the
// SPEC §5 conventions.
func TestHardening(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	d := newDriver(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	game := "hard-" + testenv.RandomSuffix(4)
	t.Cleanup(func() { removeGame(t, d, game) })
	c, err := d.Start(ctx, ports.ContainerSpec{
		Name:   "rtm-" + game + "-1",
		Image:  image,
		Env:    map[string]string{"GAME_ID": game, "PORT": "1"},
		Labels: map[string]string{ports.LabelGameID: game, ports.LabelGeneration: "1"},
		Port:   8080,
		Limits: ports.Limits{MemoryBytes: 64 << 20, NanoCPUs: 500_000_000, PidsLimit: 64},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	got, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc, cfg := got.Container.HostConfig, got.Container.Config
	checks := []struct {
		what string
		ok   bool
	}{
		{"CapDrop ALL", slices.Contains(hc.CapDrop, "ALL")},
		{"no-new-privileges", slices.ContainsFunc(hc.SecurityOpt, func(s string) bool { return s == "no-new-privileges" || s == "no-new-privileges:true" })},
		{"not privileged", !hc.Privileged},
		{"restart policy no", hc.RestartPolicy.IsNone()},
		{"memory 64MiB", hc.Memory == 64<<20 && hc.MemorySwap == 64<<20},
		{"half a CPU", hc.NanoCPUs == 500_000_000},
		{"pids 64", hc.PidsLimit != nil && *hc.PidsLimit == 64},
		{"managed label enforced", cfg.Labels[ports.LabelManaged] == "true"},
		{"PORT is the engine port, not the job's", slices.Contains(cfg.Env, "PORT=8080") && !slices.Contains(cfg.Env, "PORT=1")},
		{"published on loopback", len(c.Endpoint) > len("127.0.0.1:") && c.Endpoint[:len("127.0.0.1:")] == "127.0.0.1:"},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: HostConfig %+v Config.Env %v Labels %v endpoint %s", ch.what, hc, cfg.Env, cfg.Labels, c.Endpoint)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := docker.New(ctx, docker.Config{Host: "unix://" + t.TempDir() + "/none.sock"})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("New on a missing socket = %v, want ErrUnavailable", err)
	}
}

func removeGame(t *testing.T, d ports.RuntimeDriver, game string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := d.List(ctx, map[string]string{ports.LabelGameID: game})
	if err != nil {
		t.Errorf("cleanup list: %v", err)
		return
	}
	for _, c := range cs {
		if err := d.Remove(ctx, c.ID); err != nil {
			t.Errorf("cleanup remove %s: %v", c.ID, err)
		}
	}
}

// TestInitReadonly runs the engine under Docker's init with a read-only
// root filesystem: it must still start, answer and stop on SIGTERM.
func TestInitReadonly(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := docker.New(ctx, docker.Config{Host: host, Init: true, ReadonlyRootfs: true})
	if err != nil {
		testenv.Missing(t, "docker at %s: %v", host, err)
	}
	defer d.Close()
	game := "init-" + testenv.RandomSuffix(4)
	t.Cleanup(func() { removeGame(t, d, game) })
	c, err := d.Start(ctx, ports.ContainerSpec{
		Name: "rtm-" + game + "-1", Image: image, Port: 8080,
		Labels: map[string]string{ports.LabelGameID: game, ports.LabelGeneration: "1"},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// Stop once the engine serves, so its SIGTERM handler is installed: a
	// SIGTERM that comes earlier under load is lost (SIGKILL after the
	// timeout, exit 137) whatever the init does.
	if code, status := awaitHealthy(t, c.Endpoint); code != http.StatusOK {
		t.Fatalf("engine not healthy: %s", status)
	}
	begin := time.Now()
	if err := d.Stop(ctx, c.ID, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if el := time.Since(begin); el > 5*time.Second {
		t.Errorf("Stop under init took %s: SIGTERM did not reach the engine", el)
	}
	got, err := d.Inspect(ctx, c.ID)
	if err != nil || got.State != ports.StateExited || got.ExitCode != 0 {
		t.Errorf("after Stop: %+v, %v; want exited 0", got, err)
	}
}
