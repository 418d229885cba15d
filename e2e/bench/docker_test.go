//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// readyPoll is how often both variants of P1 look for readiness: the
// lifecycle default (lifecycle.DefaultReadyPoll).
const readyPoll = 50 * time.Millisecond

// p1Result holds the paired P1 samples.
type p1Result struct {
	REST, Raw []time.Duration
}

// measureP1 alternates n cycles of start→ready→stop→remove of one game
// through the REST API of an rtmanager binary (PostgreSQL, a private
// redis-server, Docker) and through the raw Docker API.
func measureP1(tb testing.TB, n int) p1Result {
	tb.Helper()
	host := testenv.DockerHost(tb)
	image := testenv.EngineImage(tb)
	redis := harness.StartRedisServer(tb)
	inst := harness.Start(tb, harness.Options{Env: map[string]string{
		"RTMANAGER_DATABASE_URL": testenv.PostgresURL(tb), "RTMANAGER_REDIS_URL": redis.URL,
		"RTMANAGER_DRIVER": "docker", "RTMANAGER_LOG_LEVEL": "warn",
	}})
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		tb.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		tb.Fatal(err)
	}
	var out p1Result
	for i := range n + 1 { // the first pair warms both paths up
		g := harness.GameID("p1")
		harness.RemoveDockerContainers(tb, g)
		begin := time.Now()
		if st, res := inst.Op(g, "start", map[string]any{"image_ref": image}); st != 200 {
			tb.Fatalf("start %s: %d %v", g, st, res)
		}
		if st, res := inst.Op(g, "stop", map[string]any{"reason": "game_finished"}); st != 200 {
			tb.Fatalf("stop %s: %d %v", g, st, res)
		}
		if st, res := inst.Op(g, "cleanup", nil); st != 200 {
			tb.Fatalf("cleanup %s: %d %v", g, st, res)
		}
		rest := time.Since(begin)
		raw := rawCycle(tb, cli, image, fmt.Sprintf("bench-raw-%s-%d", testenv.RandomSuffix(3), i))
		if i > 0 {
			out.REST, out.Raw = append(out.REST, rest), append(out.Raw, raw)
		}
	}
	return out
}

// rawCycle does by hand what rtmanager does for one game: create the
// container with the same hardening and limits, start it, inspect it for
// its published port, poll the engine's /healthz every readyPoll, stop it
// (SIGTERM, 10s grace), remove it.
func rawCycle(tb testing.TB, cli *client.Client, image, name string) time.Duration {
	tb.Helper()
	ctx := context.Background()
	begin := time.Now()
	id, err := rawStart(cli, image, name, map[string]string{"bench.raw": "true"})
	if id != "" {
		tb.Cleanup(func() {
			_, _ = cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
		})
	}
	if err != nil {
		tb.Fatal(err)
	}
	secs := 10
	if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		tb.Fatal(err)
	}
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
		tb.Fatal(err)
	}
	return time.Since(begin)
}

// rawStart is the start half of rawCycle: create the container with
// rtmanager's hardening and limits and the given labels, start it, inspect
// it for its published port and poll the engine's /healthz every readyPoll
// until it answers 2xx (30 s at most). It returns the container id once the
// container exists, also with an error, so the caller can remove it.
func rawStart(cli *client.Client, image, name string, labels map[string]string) (string, error) {
	ctx := context.Background()
	port, _ := network.PortFrom(8080, network.TCP)
	pids := int64(256)
	init := false
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: image, Env: []string{"GAME_ID=" + name, "PORT=8080"},
			Labels: labels, ExposedPorts: network.PortSet{port: {}}},
		HostConfig: &container.HostConfig{
			PortBindings:  network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			CapDrop:       []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"}, Init: &init,
			Resources: container.Resources{Memory: 512 << 20, MemorySwap: 512 << 20, NanoCPUs: 1e9, PidsLimit: &pids},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return created.ID, fmt.Errorf("start %s: %w", name, err)
	}
	got, err := cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return created.ID, fmt.Errorf("inspect %s: %w", name, err)
	}
	var endpoint string
	for _, b := range got.Container.NetworkSettings.Ports[port] {
		endpoint = netip.AddrPortFrom(b.HostIP, 0).Addr().String() + ":" + b.HostPort
	}
	if endpoint == "" {
		return created.ID, fmt.Errorf("raw container %s has no published port", name)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := hc.Get("http://" + endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return created.ID, nil
			}
		}
		if time.Now().After(deadline) {
			return created.ID, fmt.Errorf("raw engine %s not ready: %v", name, err)
		}
		time.Sleep(readyPoll)
	}
}
