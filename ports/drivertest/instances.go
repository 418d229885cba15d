package drivertest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

func testVanished(t *testing.T, h Harness) {
	f := newFixture(t, h)
	c, _ := f.start(f.spec(nil))
	other := h.New(t)
	if err := other.Remove(ctxFor(t, 60*time.Second), c.ID); err != nil {
		t.Fatalf("Remove by a second instance: %v", err)
	}
	if _, err := f.d.Inspect(ctxFor(t, 30*time.Second), c.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Inspect of a removed container = %v, want ErrNotFound", err)
	}
	if err := f.d.Stop(ctxFor(t, 30*time.Second), c.ID, time.Second); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Stop of a removed container = %v, want ErrNotFound", err)
	}
	if err := f.d.Remove(ctxFor(t, 30*time.Second), c.ID); err != nil {
		t.Errorf("Remove of a removed container = %v, want nil", err)
	}
	never := randomHex(32)
	if _, err := f.d.Inspect(ctxFor(t, 30*time.Second), never); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Inspect of a never-created id = %v, want ErrNotFound", err)
	}
}

func testRemoveIdempotent(t *testing.T, h Harness) {
	f := newFixture(t, h)
	rec := record(t, f.d)
	c, _ := f.start(f.spec(map[string]string{"ENGINE_IGNORE_SIGTERM": "1"}))
	begin := time.Now()
	if err := f.d.Remove(ctxFor(t, 60*time.Second), c.ID); err != nil {
		t.Fatalf("Remove of a running container: %v", err)
	}
	if el := time.Since(begin); el > h.Slack {
		t.Errorf("Remove of a running container took %s: it must kill, not wait for SIGTERM", el)
	}
	rec.wait(t, ports.EventRemoved, c.ID, 30*time.Second)
	for i := range 2 {
		if err := f.d.Remove(ctxFor(t, 30*time.Second), c.ID); err != nil {
			t.Errorf("Remove #%d of a removed container = %v, want nil", i+2, err)
		}
	}
	if _, err := f.d.Inspect(ctxFor(t, 30*time.Second), c.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Inspect after Remove = %v, want ErrNotFound", err)
	}
	f.wantIDs(f.d, map[string]string{ports.LabelGameID: f.game})
}

func testList(t *testing.T, h Harness) {
	f := newFixture(t, h)
	a1, _ := f.start(f.spec(nil))
	a2, _ := f.start(f.spec(nil))
	f.stop(f.d, a2.ID, 10*time.Second)
	other := newFixture(t, h)
	b, _ := other.start(other.spec(nil))

	all := f.wantIDs(f.d, map[string]string{ports.LabelGameID: f.game}, a1.ID, a2.ID)
	for _, c := range all {
		want := ports.StateRunning
		if c.ID == a2.ID {
			want = ports.StateExited
		}
		if c.State != want {
			t.Errorf("List: %s state %q, want %q", c.ID, c.State, want)
		}
		if c.ID == a1.ID && c.Endpoint != a1.Endpoint {
			t.Errorf("List: %s endpoint %q, want %q", c.ID, c.Endpoint, a1.Endpoint)
		}
		if c.Labels[ports.LabelGameID] != f.game {
			t.Errorf("List: %s labels %v lack the game id", c.ID, c.Labels)
		}
		if c.Name == "" || c.CreatedAt.IsZero() {
			t.Errorf("List: %s name %q created %v, want both set", c.ID, c.Name, c.CreatedAt)
		}
	}
	f.wantIDs(f.d, map[string]string{ports.LabelManaged: "true", ports.LabelGameID: f.game}, a1.ID, a2.ID)
	f.wantIDs(f.d, map[string]string{ports.LabelGameID: f.game, ports.LabelGeneration: "1"}, a1.ID)
	f.wantIDs(f.d, map[string]string{ports.LabelGameID: other.game}, b.ID)
	f.wantIDs(f.d, map[string]string{ports.LabelGameID: "dt-none-" + randomHex(4)})
}

// wantIDs lists labels with d and fails unless exactly ids come back.
func (f *fixture) wantIDs(d ports.RuntimeDriver, labels map[string]string, ids ...string) []ports.Container {
	f.t.Helper()
	cs, err := d.List(ctxFor(f.t, 30*time.Second), labels)
	if err != nil {
		f.t.Fatalf("List(%v): %v", labels, err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.ID)
	}
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		f.t.Errorf("List(%v) = %v, want %v", labels, got, want)
	}
	return cs
}

func testSecondInstance(t *testing.T, h Harness) {
	f := newFixture(t, h)
	c, _ := f.start(f.spec(nil))
	d2 := h.New(t)
	cs := f.wantIDs(d2, map[string]string{ports.LabelGameID: f.game}, c.ID)
	if len(cs) == 1 && (cs[0].State != ports.StateRunning || cs[0].Endpoint != c.Endpoint) {
		t.Errorf("second instance lists %s as %q at %q, want running at %q", c.ID, cs[0].State, cs[0].Endpoint, c.Endpoint)
	}
	got := f.inspect(d2, c.ID)
	if got.State != ports.StateRunning || got.Endpoint != c.Endpoint || got.Name != c.Name {
		t.Errorf("second instance inspects %q %q %q, want running %q %q", got.State, got.Endpoint, got.Name, c.Endpoint, c.Name)
	}
	f.stop(d2, c.ID, 10*time.Second)
	if got := f.inspect(f.d, c.ID); got.State != ports.StateExited {
		t.Errorf("after a stop by the second instance: state %q, want %q", got.State, ports.StateExited)
	}
}

func testEventsClose(t *testing.T, h Harness) {
	d := h.New(t)
	rec := record(t, d)
	rec.stop()
	rec.waitClosed(t, 10*time.Second)
}

func testRuntimeRestart(t *testing.T, h Harness) {
	if h.RestartRuntime == nil {
		reason := h.Caps.NoDaemonRestart
		if reason == "" {
			reason = "the harness cannot restart the runtime"
		}
		t.Skip(reason)
	}
	f := newFixture(t, h)
	rec := record(t, f.d)
	before, _ := f.start(f.spec(nil))
	rec.wait(t, ports.EventStarted, before.ID, 30*time.Second)

	begin := time.Now()
	h.RestartRuntime(t)
	t.Logf("runtime restart took %s", time.Since(begin))
	f.waitReachable()
	if rec.isClosed() {
		t.Fatalf("the event stream closed when the runtime restarted; it must re-subscribe")
	}

	after, _ := f.start(f.spec(map[string]string{"ENGINE_EXIT_AFTER": "1s", "ENGINE_EXIT_CODE": "7"}))
	wait := 30*time.Second + h.Slack
	rec.wait(t, ports.EventStarted, after.ID, wait)
	if ev := rec.wait(t, ports.EventExited, after.ID, wait); ev.ExitCode != 7 {
		t.Errorf("exited event after the restart: code %d, want 7", ev.ExitCode)
	}
	// A manager started after the restart finds both containers.
	f.wantIDs(h.New(t), map[string]string{ports.LabelGameID: f.game}, before.ID, after.ID)
}

// waitReachable polls Capabilities until the runtime answers.
func (f *fixture) waitReachable() {
	f.t.Helper()
	deadline := time.Now().Add(f.h.StartTimeout)
	for {
		_, err := f.d.Capabilities(ctxFor(f.t, 10*time.Second))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("runtime unreachable %s after its restart: %v", f.h.StartTimeout, err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}
