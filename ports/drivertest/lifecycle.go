package drivertest

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// cases are the conformance cases in the order Run runs them.
var cases = []struct {
	name string
	run  func(*testing.T, Harness)
}{
	{"Capabilities", testCapabilities},
	{"PrepareImage", testPrepareImage},
	{"MissingImage", testMissingImage},
	{"InvalidSpec", testInvalidSpec},
	{"StartRunning", testStartRunning},
	{"StartIdempotentByName", testStartIdempotent},
	{"StartForeignOwnerConflict", testForeignOwner},
	{"StartSameOwnerAdopted", testSameOwner},
	{"StopPrompt", testStopPrompt},
	{"StopEscalatesToKill", testStopKill},
	{"ExitEvents", testExitEvents},
	{"OOMEvent", testOOM},
	{"VanishedContainer", testVanished},
	{"RemoveIdempotent", testRemoveIdempotent},
	{"ListByLabel", testList},
	{"SecondInstance", testSecondInstance},
	{"EventsCloseOnCancel", testEventsClose},
	{"RuntimeRestart", testRuntimeRestart},
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func testCapabilities(t *testing.T, h Harness) {
	d1, d2 := h.New(t), h.New(t)
	c1, err := d1.Capabilities(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	c2, err := d2.Capabilities(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatalf("Capabilities (second instance): %v", err)
	}
	if c1.Name == "" || c1.Version == "" || c1.Fingerprint == "" {
		t.Errorf("Capabilities = %+v, want Name, Version and Fingerprint set", c1)
	}
	if c1.Fingerprint != c2.Fingerprint {
		t.Errorf("two instances on one runtime report fingerprints %q and %q", c1.Fingerprint, c2.Fingerprint)
	}
	t.Logf("capabilities: %+v", c1)
}

func testPrepareImage(t *testing.T, h Harness) {
	d := h.New(t)
	if err := d.PrepareImage(ctxFor(t, h.StartTimeout), h.Image); err != nil {
		t.Fatalf("PrepareImage(%s): %v", h.Image, err)
	}
}

func testMissingImage(t *testing.T, h Harness) {
	f := newFixture(t, h)
	// "Fail fast": well under the minute a real pull could hang for.
	const fast = 30 * time.Second
	begin := time.Now()
	err := f.d.PrepareImage(ctxFor(t, 2*fast), h.MissingImage)
	if !errors.Is(err, ports.ErrImageUnavailable) {
		t.Errorf("PrepareImage(%s) = %v, want ErrImageUnavailable", h.MissingImage, err)
	}
	if el := time.Since(begin); el > fast {
		t.Errorf("PrepareImage of a missing image took %s, want < %s", el, fast)
	}
	spec := f.spec(nil)
	spec.Image = h.MissingImage
	spec.Labels[ports.LabelImageRef] = h.MissingImage
	begin = time.Now()
	_, err = f.d.Start(ctxFor(t, 2*fast), spec)
	if !errors.Is(err, ports.ErrImageUnavailable) {
		t.Errorf("Start with a missing image = %v, want ErrImageUnavailable", err)
	}
	if el := time.Since(begin); el > fast {
		t.Errorf("Start with a missing image took %s, want < %s", el, fast)
	}
	cs, err := f.d.List(ctxFor(t, 30*time.Second), map[string]string{ports.LabelGameID: f.game})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(cs) != 0 {
		t.Errorf("a failed Start left %d containers behind", len(cs))
	}
}

func testInvalidSpec(t *testing.T, h Harness) {
	f := newFixture(t, h)
	for name, mutate := range map[string]func(*ports.ContainerSpec){
		"no name":  func(s *ports.ContainerSpec) { s.Name = "" },
		"no image": func(s *ports.ContainerSpec) { s.Image = "" },
	} {
		spec := f.spec(nil)
		mutate(&spec)
		if _, err := f.d.Start(ctxFor(t, 30*time.Second), spec); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("Start with %s = %v, want ErrInvalid", name, err)
		}
	}
}

func testStartRunning(t *testing.T, h Harness) {
	f := newFixture(t, h)
	spec := f.spec(map[string]string{"JOB_SETTING": "value with spaces", "EMPTY": ""})
	spec.Labels["rtmanager.test.extra"] = "kept"
	begin := time.Now()
	c, elapsed := f.start(spec)
	t.Logf("create+start took %s", elapsed)
	if c.Name != spec.Name {
		t.Errorf("Name = %q, want %q", c.Name, spec.Name)
	}
	if c.Image != spec.Image {
		t.Errorf("Image = %q, want %q", c.Image, spec.Image)
	}
	caps, err := f.d.Capabilities(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	checkEndpoint(t, c.Endpoint, spec.HostIP, caps.RemoteEndpoints)
	f.waitHealthy(c.Endpoint)
	t.Logf("create+start until healthy took %s", time.Since(begin))

	got := f.inspect(f.d, c.ID)
	if got.ID != c.ID || got.State != ports.StateRunning || got.Endpoint != c.Endpoint {
		t.Errorf("Inspect = id %q state %q endpoint %q, want %q %q %q", got.ID, got.State, got.Endpoint, c.ID, ports.StateRunning, c.Endpoint)
	}
	if got.StartedAt.IsZero() || got.CreatedAt.IsZero() {
		t.Errorf("Inspect: CreatedAt %v StartedAt %v, want both set", got.CreatedAt, got.StartedAt)
	}
	for k, v := range spec.Labels {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, got.Labels[k], v)
		}
	}
	if got.Labels[ports.LabelManaged] != "true" {
		t.Errorf("label %s = %q, want true", ports.LabelManaged, got.Labels[ports.LabelManaged])
	}

	env := f.engineEnv(c.Endpoint)
	for k, v := range spec.Env {
		if env[k] != v {
			t.Errorf("engine env %s = %q, want %q", k, env[k], v)
		}
	}
	wantPort := strconv.Itoa(h.Port)
	if !caps.PublishesPorts {
		_, wantPort, _ = net.SplitHostPort(c.Endpoint)
	}
	if env["PORT"] != wantPort {
		t.Errorf("engine env PORT = %q, want %q (PublishesPorts %v)", env["PORT"], wantPort, caps.PublishesPorts)
	}
}

func testStartIdempotent(t *testing.T, h Harness) {
	f := newFixture(t, h)
	spec := f.spec(nil)
	c1, _ := f.start(spec)
	c2, _ := f.start(spec)
	if c2.ID != c1.ID || c2.Endpoint != c1.Endpoint {
		t.Errorf("second Start = %s at %s, want the running %s at %s", c2.ID, c2.Endpoint, c1.ID, c1.Endpoint)
	}
	f.stop(f.d, c1.ID, 10*time.Second)
	// A stopped container of that name is replaced: Start returns a
	// running container again.
	c3, _ := f.start(spec)
	f.waitHealthy(c3.Endpoint)
}

func testStopPrompt(t *testing.T, h Harness) {
	f := newFixture(t, h)
	c, _ := f.start(f.spec(nil))
	f.waitHealthy(c.Endpoint)
	const timeout = 10 * time.Second
	elapsed := f.stop(f.d, c.ID, timeout)
	t.Logf("stop of a well-behaved engine took %s", elapsed)
	if elapsed >= timeout {
		t.Errorf("Stop took %s: the engine exits on SIGTERM, want well under the %s timeout", elapsed, timeout)
	}
	got := f.inspect(f.d, c.ID)
	if got.State != ports.StateExited || got.ExitCode != 0 {
		t.Errorf("after Stop: state %q exit %d, want %q 0", got.State, got.ExitCode, ports.StateExited)
	}
	if got.Endpoint != "" {
		t.Errorf("after Stop: endpoint %q, want empty", got.Endpoint)
	}
	if got.FinishedAt.IsZero() {
		t.Errorf("after Stop: FinishedAt is zero")
	}
	if el := f.stop(f.d, c.ID, timeout); el > h.Slack {
		t.Errorf("Stop of an exited container took %s", el)
	}
}

func testStopKill(t *testing.T, h Harness) {
	f := newFixture(t, h)
	c, _ := f.start(f.spec(map[string]string{"ENGINE_IGNORE_SIGTERM": "1"}))
	// Healthy means the engine has installed its signal handler.
	f.waitHealthy(c.Endpoint)
	elapsed := f.stop(f.d, c.ID, h.KillTimeout)
	t.Logf("stop escalating to kill after %s took %s", h.KillTimeout, elapsed)
	if elapsed < h.KillTimeout {
		t.Errorf("Stop returned after %s, before the %s timeout", elapsed, h.KillTimeout)
	}
	if elapsed > h.KillTimeout+h.Slack {
		t.Errorf("Stop returned after %s, want < timeout %s + %s", elapsed, h.KillTimeout, h.Slack)
	}
	got := f.inspect(f.d, c.ID)
	if got.State != ports.StateExited || got.ExitCode != 137 {
		t.Errorf("after kill: state %q exit %d, want %q 137", got.State, got.ExitCode, ports.StateExited)
	}
}

func testExitEvents(t *testing.T, h Harness) {
	f := newFixture(t, h)
	rec := record(t, f.d)
	ok, _ := f.start(f.spec(map[string]string{"ENGINE_EXIT_AFTER": "1s"}))
	bad, _ := f.start(f.spec(map[string]string{"ENGINE_EXIT_AFTER": "1s", "ENGINE_EXIT_CODE": "3"}))
	wait := 30*time.Second + h.Slack
	for _, want := range []struct {
		c    ports.Container
		code int
	}{{ok, 0}, {bad, 3}} {
		rec.wait(t, ports.EventStarted, want.c.ID, wait)
		ev := rec.wait(t, ports.EventExited, want.c.ID, wait)
		if ev.ExitCode != want.code {
			t.Errorf("exited event of %s: code %d, want %d", want.c.ID, ev.ExitCode, want.code)
		}
		if ev.At.IsZero() {
			t.Errorf("exited event of %s has no time", want.c.ID)
		}
		if len(ev.Labels) > 0 && ev.Labels[ports.LabelGameID] != f.game {
			t.Errorf("exited event labels %v, want %s=%s", ev.Labels, ports.LabelGameID, f.game)
		}
		got := f.inspect(f.d, want.c.ID)
		if got.State != ports.StateExited || got.ExitCode != want.code {
			t.Errorf("Inspect after exit: state %q code %d, want %q %d", got.State, got.ExitCode, ports.StateExited, want.code)
		}
	}
}

func testOOM(t *testing.T, h Harness) {
	if h.Caps.NoOOM != "" {
		t.Skip(h.Caps.NoOOM)
	}
	f := newFixture(t, h)
	caps, err := f.d.Capabilities(ctxFor(t, 30*time.Second))
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	if !caps.OOMEvents {
		t.Skipf("driver %s reports no OOM events", caps.Name)
	}
	rec := record(t, f.d)
	// The engine starts eating memory a second after it starts, so Start
	// sees it running first.
	spec := f.spec(map[string]string{"ENGINE_OOM": "1", "ENGINE_OOM_AFTER": "1s"})
	spec.Limits = ports.Limits{MemoryBytes: 32 << 20}
	c, _ := f.start(spec)
	rec.wait(t, ports.EventOOM, c.ID, 60*time.Second)
	rec.wait(t, ports.EventExited, c.ID, 30*time.Second)
	got := f.inspect(f.d, c.ID)
	if got.State != ports.StateExited || !got.OOMKilled {
		t.Errorf("after OOM: state %q OOMKilled %v, want %q true", got.State, got.OOMKilled, ports.StateExited)
	}
}
