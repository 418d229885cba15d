// Package drivertest is the conformance suite of ports.RuntimeDriver. Every
// driver (docker, containerd, the plugin host, an integrator's plugin) runs
// the same behavioural cases against a real runtime:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, drivertest.Harness{
//			New:          func(t *testing.T) ports.RuntimeDriver { return newDriver(t) },
//			Image:        testenv.EngineImage(t),
//			MissingImage: "rtmanager-missing.invalid/engine:none",
//			Port:         8080,
//		})
//	}
//
// The image must be the test engine (e2e/engine): it serves /healthz and
// /env on $PORT and misbehaves on request through ENGINE_* variables. Each
// case uses its own game id, labels every container with it and removes
// what it created by that label, so the suite can share a runtime with
// other tests.
//
// Conventions the suite checks beyond the port's doc comments: the endpoint
// is on the spec's HostIP (127.0.0.1), unless the driver declares
// Capabilities.RemoteEndpoints (a cluster driver: any host); an engine killed after the stop
// timeout reports exit code 137 (128+SIGKILL); Container.Name is spec.Name
// and Container.Image is spec.Image.
package drivertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// Harness tells the suite how to reach the driver under test.
type Harness struct {
	// New returns a fresh driver instance on the runtime under test. The
	// suite calls it once per case, and again where a case needs a second
	// instance (another manager sharing the runtime, or a restarted one).
	// It should register its own cleanup with t.
	New func(t *testing.T) ports.RuntimeDriver
	// Image is a reference to the test engine image the driver can run.
	Image string
	// MissingImage is a reference that does not exist and cannot be pulled;
	// the driver must fail fast with ports.ErrImageUnavailable.
	MissingImage string
	// Port is the engine's container port (RTMANAGER_ENGINE_PORT, 8080).
	Port int
	// Caps lists the cases the driver cannot run, each with its reason.
	Caps Caps
	// RestartRuntime restarts the runtime (or severs the driver's
	// connection to it) and returns once it is reachable again; the
	// driver's event stream must resume by itself. Nil skips that case.
	RestartRuntime func(t *testing.T)
	// KillTimeout is the stop timeout of the kill-escalation case
	// (default 2s). Drivers with whole-second timeouts need a whole number.
	KillTimeout time.Duration
	// Slack is how late an operation may complete beyond what it waits for
	// (default 5s); it keeps the timing assertions meaningful yet robust on
	// a loaded two-core CI machine.
	Slack time.Duration
	// StartTimeout bounds one Start call and the first healthy answer
	// (default 60s).
	StartTimeout time.Duration
}

// Caps names cases the driver cannot support. A non-empty string skips the
// case and is the reason printed.
type Caps struct {
	// NoOOM skips the OOM event case (no memory limits or OOM events).
	NoOOM string
	// NoDaemonRestart is the skip reason when RestartRuntime is nil.
	NoDaemonRestart string
}

// Run runs every conformance case against h as named subtests.
func Run(t *testing.T, h Harness) {
	if h.New == nil || h.Image == "" || h.MissingImage == "" || h.Port == 0 {
		t.Fatalf("drivertest: Harness needs New, Image, MissingImage and Port")
	}
	if h.KillTimeout == 0 {
		h.KillTimeout = 2 * time.Second
	}
	if h.Slack == 0 {
		h.Slack = 5 * time.Second
	}
	if h.StartTimeout == 0 {
		h.StartTimeout = 60 * time.Second
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// fixture is the state of one case: a driver, a unique game id and a
// generation counter for container names.
type fixture struct {
	t    *testing.T
	h    Harness
	d    ports.RuntimeDriver
	game string
	gen  int
}

// newFixture creates a driver and a game id whose containers are removed
// when the case ends.
func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	f := &fixture{t: t, h: h, d: h.New(t), game: "dt-" + randomHex(6)}
	t.Cleanup(func() { removeGame(t, f.d, f.game) })
	return f
}

// removeGame removes every container labelled with game.
func removeGame(t *testing.T, d ports.RuntimeDriver, game string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := d.List(ctx, map[string]string{ports.LabelGameID: game})
	if err != nil {
		t.Errorf("cleanup: list game %s: %v", game, err)
		return
	}
	for _, c := range cs {
		if err := d.Remove(ctx, c.ID); err != nil {
			t.Errorf("cleanup: remove %s: %v", c.ID, err)
		}
	}
}

// spec returns the spec of the next generation of f's game with env added.
func (f *fixture) spec(env map[string]string) ports.ContainerSpec {
	f.gen++
	gen := strconv.Itoa(f.gen)
	e := map[string]string{"GAME_ID": f.game}
	for k, v := range env {
		e[k] = v
	}
	return ports.ContainerSpec{
		Name:  fmt.Sprintf("rtm-%s-%s", f.game, gen),
		Image: f.h.Image,
		Env:   e,
		Labels: map[string]string{
			ports.LabelManaged:    "true",
			ports.LabelGameID:     f.game,
			ports.LabelGeneration: gen,
			ports.LabelImageRef:   f.h.Image,
		},
		Port:   f.h.Port,
		HostIP: "127.0.0.1",
	}
}

// start starts spec and fails the case unless it runs; it returns the
// container and how long Start took.
func (f *fixture) start(spec ports.ContainerSpec) (ports.Container, time.Duration) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), f.h.StartTimeout)
	defer cancel()
	begin := time.Now()
	c, err := f.d.Start(ctx, spec)
	elapsed := time.Since(begin)
	if err != nil {
		f.t.Fatalf("Start(%s): %v", spec.Name, err)
	}
	if c.ID == "" || c.State != ports.StateRunning {
		f.t.Fatalf("Start(%s) = id %q state %q, want an id and %q", spec.Name, c.ID, c.State, ports.StateRunning)
	}
	return c, elapsed
}

// inspect returns the container or fails the case.
func (f *fixture) inspect(d ports.RuntimeDriver, id string) ports.Container {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := d.Inspect(ctx, id)
	if err != nil {
		f.t.Fatalf("Inspect(%s): %v", id, err)
	}
	return c
}

// stop stops id with timeout and returns how long it took.
func (f *fixture) stop(d ports.RuntimeDriver, id string, timeout time.Duration) time.Duration {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+f.h.Slack+30*time.Second)
	defer cancel()
	begin := time.Now()
	if err := d.Stop(ctx, id, timeout); err != nil {
		f.t.Fatalf("Stop(%s, %s): %v", id, timeout, err)
	}
	return time.Since(begin)
}

// waitHealthy polls http://endpoint/healthz until it answers 200.
func (f *fixture) waitHealthy(endpoint string) {
	f.t.Helper()
	deadline := time.Now().Add(f.h.StartTimeout)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := get(endpoint, "/healthz")
		if err == nil && code == http.StatusOK {
			return
		}
		last = fmt.Sprintf("status %d %q err %v", code, body, err)
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	f.t.Fatalf("GET http://%s/healthz never answered 200 within %s; last: %s", endpoint, f.h.StartTimeout, last)
}

// engineEnv returns the environment the engine at endpoint sees.
func (f *fixture) engineEnv(endpoint string) map[string]string {
	f.t.Helper()
	code, body, err := get(endpoint, "/env")
	if err != nil || code != http.StatusOK {
		f.t.Fatalf("GET http://%s/env: status %d err %v", endpoint, code, err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		f.t.Fatalf("decode /env: %v", err)
	}
	return env
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func get(endpoint, path string) (int, string, error) {
	resp, err := httpClient.Get("http://" + endpoint + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, string(body), nil
}

// checkEndpoint asserts endpoint is host:port with a real port, on hostIP
// unless remote endpoints are allowed.
func checkEndpoint(t *testing.T, endpoint, hostIP string, remote bool) {
	t.Helper()
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	if host != hostIP && !remote {
		t.Errorf("endpoint host = %q, want %q", host, hostIP)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 {
		t.Errorf("endpoint port = %q, want a positive number", port)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}
