//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// readyPoll is how often the raw variant of P1 looks for readiness: the
// lifecycle default (lifecycle.DefaultReadyPoll). rtmanager probes sooner
// at first (lifecycle.readyBackoff) and backs off to this interval.
const readyPoll = 50 * time.Millisecond

// envP1Baseline names an rtmanager binary built from an older commit; when
// set, P1 runs it as a third variant so before/after come from one run.
const envP1Baseline = "BENCH_P1_BASELINE_BIN"

// p1EngineDelay, when set, is the ENGINE_START_DELAY every P1 variant gives
// the engine (TestP1's $BENCH_P1_ENGINE_START_DELAY): an engine that needs
// that long to listen, to measure the readiness polls.
var p1EngineDelay string

// p1Env returns the engine environment of a P1 cycle besides GAME_ID.
func p1Env() map[string]string {
	if p1EngineDelay == "" {
		return map[string]string{}
	}
	return map[string]string{"ENGINE_START_DELAY": p1EngineDelay}
}

// p1Result holds the paired P1 samples and their phases.
type p1Result struct {
	REST, Raw, Base []time.Duration
	// RawNet is the raw cycle on rtmanager's engine network (its SPEC §5
	// isolation) instead of Docker's default bridge.
	RawNet []time.Duration
	// Driver is the cycle through rtmanager's Docker driver alone, in
	// process (the spec a start gives it; readiness polled as by raw).
	Driver []time.Duration
	// Phases of every pair, by variant ("rest", "raw", "base") and phase.
	Phases map[string]map[string][]time.Duration
}

// measureP1 runs n rounds (after one warm-up round) of start→ready→stop→
// remove of one game through the REST API of an rtmanager binary
// (PostgreSQL, a private redis-server, Docker), through the raw Docker API
// and, when $BENCH_P1_BASELINE_BIN is set, through that binary; the order
// of the variants rotates every round. The rtmanager instances export
// their spans to in-process collectors, which split their time in phases.
func measureP1(tb testing.TB, n int) p1Result {
	tb.Helper()
	host := testenv.DockerHost(tb)
	image := testenv.EngineImage(tb)
	type variant struct {
		name string
		inst *harness.Instance
		col  *spanCollector
	}
	serve := func(name, bin string) variant {
		redis := harness.StartRedisServer(tb)
		col := startCollector(tb)
		inst := harness.Start(tb, harness.Options{Binary: bin, Env: map[string]string{
			"RTMANAGER_DATABASE_URL": testenv.PostgresURL(tb), "RTMANAGER_REDIS_URL": redis.URL,
			"RTMANAGER_DRIVER": "docker", "RTMANAGER_LOG_LEVEL": "warn", "RTMANAGER_OTLP_ENDPOINT": col.URL(),
		}})
		return variant{name, inst, col}
	}
	vs := []variant{serve("rest", ""), {name: "raw"}, {name: "rawnet"}, {name: "driver"}}
	if bin := os.Getenv(envP1Baseline); bin != "" {
		vs = append(vs, serve("base", bin))
	}
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		tb.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Ping(context.Background(), client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		tb.Fatal(err)
	}
	drv, err := docker.New(context.Background(), docker.Config{Host: host})
	if err != nil {
		tb.Fatal(err)
	}
	defer drv.Close()
	scope := "p1drv" + testenv.RandomSuffix(3)
	out := p1Result{Phases: map[string]map[string][]time.Duration{}}
	type restRun struct {
		col   *spanCollector
		marks [4]time.Time
	}
	var runs [][]restRun // per variant
	runs = make([][]restRun, len(vs))
	for i := range n + 1 { // the first round warms every path up
		for k := range vs {
			v := vs[(i+k)%len(vs)]
			var took time.Duration
			if v.name == "driver" {
				var ph map[string]time.Duration
				took, ph = driverCycle(tb, drv, image, scope)
				if i > 0 {
					for p, d := range ph {
						addPhase(out.Phases, v.name, p, d)
					}
				}
			} else if v.inst == nil {
				var ph map[string]time.Duration
				netMode := ""
				if v.name == "rawnet" {
					netMode = docker.DefaultNetwork
				}
				took, ph = rawCycle(tb, cli, image, fmt.Sprintf("bench-raw-%s-%d", testenv.RandomSuffix(3), i), netMode)
				if i > 0 {
					for p, d := range ph {
						addPhase(out.Phases, v.name, p, d)
					}
				}
			} else {
				marks := restCycle(tb, v.inst, image)
				took = marks[3].Sub(marks[0])
				if i > 0 {
					runs[(i+k)%len(vs)] = append(runs[(i+k)%len(vs)], restRun{v.col, marks})
				}
			}
			if i == 0 {
				continue
			}
			switch v.name {
			case "rest":
				out.REST = append(out.REST, took)
			case "raw":
				out.Raw = append(out.Raw, took)
			case "rawnet":
				out.RawNet = append(out.RawNet, took)
			case "driver":
				out.Driver = append(out.Driver, took)
			case "base":
				out.Base = append(out.Base, took)
			}
		}
	}
	for k, v := range vs {
		if v.col == nil {
			continue
		}
		v.col.await(tb, 3*(len(runs[k])+1)) // with the warm-up round's
		for _, r := range runs[k] {
			for p, d := range v.col.phases(tb, r.marks) {
				addPhase(out.Phases, v.name, p, d)
			}
		}
	}
	return out
}

func addPhase(m map[string]map[string][]time.Duration, variant, phase string, d time.Duration) {
	if m[variant] == nil {
		m[variant] = map[string][]time.Duration{}
	}
	m[variant][phase] = append(m[variant][phase], d)
}

// restCycle starts, stops and cleans up one new game through inst and
// returns the times before the start, after the start, after the stop
// and after the cleanup.
func restCycle(tb testing.TB, inst *harness.Instance, image string) (marks [4]time.Time) {
	tb.Helper()
	g := harness.GameID("p1")
	harness.RemoveDockerContainers(tb, g)
	marks[0] = time.Now()
	if st, res := inst.Op(g, "start", map[string]any{"image_ref": image, "env": p1Env()}); st != 200 {
		tb.Fatalf("start %s: %d %v", g, st, res)
	}
	marks[1] = time.Now()
	if st, res := inst.Op(g, "stop", map[string]any{"reason": "game_finished"}); st != 200 {
		tb.Fatalf("stop %s: %d %v", g, st, res)
	}
	marks[2] = time.Now()
	if st, res := inst.Op(g, "cleanup", nil); st != 200 {
		tb.Fatalf("cleanup %s: %d %v", g, st, res)
	}
	marks[3] = time.Now()
	return marks
}

// driverCycle runs one cycle through the Docker driver alone: Start with the
// spec rtmanager's lifecycle gives it (in its own deployment scope), the
// readiness poll of rawStartTimed, Stop (10 s grace), Remove.
func driverCycle(tb testing.TB, drv *docker.Driver, image, scope string) (time.Duration, map[string]time.Duration) {
	tb.Helper()
	ctx := context.Background()
	game := "p1d-" + testenv.RandomSuffix(4)
	labels := lifecycle.Labels(game, 1, image)
	labels[ports.LabelScope] = scope
	ph := map[string]time.Duration{}
	env := p1Env()
	env["GAME_ID"] = game
	begin := time.Now()
	c, err := drv.Start(ctx, ports.ContainerSpec{Name: core.ContainerName(scope, game, 1), Image: image,
		Env: env, Labels: labels, Port: lifecycle.DefaultEnginePort, HostIP: "127.0.0.1",
		Limits: ports.Limits{MemoryBytes: 512 << 20, NanoCPUs: 1e9, PidsLimit: 256}})
	if c.ID != "" {
		tb.Cleanup(func() { _ = drv.Remove(context.Background(), c.ID) })
	}
	if err != nil {
		tb.Fatal(err)
	}
	ph[phStartDriver] = time.Since(begin)
	t := time.Now()
	if err := pollReady(c.Endpoint); err != nil {
		tb.Fatal(err)
	}
	ph[phStartReady] = time.Since(t)
	t = time.Now()
	if err := drv.Stop(ctx, c.ID, 10*time.Second); err != nil {
		tb.Fatal(err)
	}
	ph[phStopDriver] = time.Since(t)
	t = time.Now()
	if err := drv.Remove(ctx, c.ID); err != nil {
		tb.Fatal(err)
	}
	ph[phCleanupDriver] = time.Since(t)
	return time.Since(begin), ph
}

// rawCycle does by hand what rtmanager does for one game: create the
// container with the same hardening and limits, start it, inspect it for
// its published port, poll the engine's /healthz every readyPoll, stop it
// (SIGTERM, 10s grace), remove it. netMode is the network ("" for Docker's
// default bridge). It returns the total and its phases.
func rawCycle(tb testing.TB, cli *client.Client, image, name, netMode string) (time.Duration, map[string]time.Duration) {
	tb.Helper()
	ctx := context.Background()
	begin := time.Now()
	ph := map[string]time.Duration{}
	id, err := rawStartTimed(cli, image, name, netMode, map[string]string{"bench.raw": "true"}, ph)
	if id != "" {
		tb.Cleanup(func() {
			_, _ = cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
		})
	}
	if err != nil {
		tb.Fatal(err)
	}
	secs := 10
	t := time.Now()
	if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		tb.Fatal(err)
	}
	ph[phStopDriver] = time.Since(t)
	t = time.Now()
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
		tb.Fatal(err)
	}
	ph[phCleanupDriver] = time.Since(t)
	return time.Since(begin), ph
}

// rawStart is the start half of rawCycle (see rawStartTimed).
func rawStart(cli *client.Client, image, name string, labels map[string]string) (string, error) {
	return rawStartTimed(cli, image, name, "", labels, map[string]time.Duration{})
}

// rawStartTimed creates the container with rtmanager's hardening and
// limits and the given labels, starts it, inspects it for its published
// port and polls the engine's /healthz every readyPoll until it answers 2xx
// (30 s at most), adding the time of each phase to ph. It returns the
// container id once the container exists, also with an error, so the
// caller can remove it.
func rawStartTimed(cli *client.Client, image, name, netMode string, labels map[string]string, ph map[string]time.Duration) (string, error) {
	ctx := context.Background()
	port, _ := network.PortFrom(8080, network.TCP)
	pids := int64(256)
	init := false
	env := []string{"GAME_ID=" + name, "PORT=8080"}
	for k, v := range p1Env() {
		env = append(env, k+"="+v)
	}
	t := time.Now()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{Image: image, Env: env,
			Labels: labels, ExposedPorts: network.PortSet{port: {}}},
		HostConfig: &container.HostConfig{
			NetworkMode:   container.NetworkMode(netMode),
			PortBindings:  network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			CapDrop:       []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"}, Init: &init,
			Resources: container.Resources{Memory: 512 << 20, MemorySwap: 512 << 20, NanoCPUs: 1e9, PidsLimit: &pids},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	ph[phRawCreate] = time.Since(t)
	t1 := time.Now()
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return created.ID, fmt.Errorf("start %s: %w", name, err)
	}
	ph[phRawStart] = time.Since(t1)
	t1 = time.Now()
	got, err := cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return created.ID, fmt.Errorf("inspect %s: %w", name, err)
	}
	ph[phRawInspect] = time.Since(t1)
	ph[phStartDriver] = time.Since(t)
	t = time.Now()
	var endpoint string
	for _, b := range got.Container.NetworkSettings.Ports[port] {
		endpoint = netip.AddrPortFrom(b.HostIP, 0).Addr().String() + ":" + b.HostPort
	}
	if endpoint == "" {
		return created.ID, fmt.Errorf("raw container %s has no published port", name)
	}
	if err := pollReady(endpoint); err != nil {
		return created.ID, fmt.Errorf("raw engine %s: %w", name, err)
	}
	ph[phStartReady] = time.Since(t)
	return created.ID, nil
}

// pollReady polls http://endpoint/healthz every readyPoll until it answers
// 2xx (30 s at most).
func pollReady(endpoint string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := hc.Get("http://" + endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready: %v", err)
		}
		time.Sleep(readyPoll)
	}
}
