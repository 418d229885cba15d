package fakedriver_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/ports"
)

const image = "engine:1"

var (
	errBoom = errors.New("boom")
	hex64   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	t0      = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
)

// newDriver returns a driver with image registered as b.
func newDriver(b fakedriver.Behavior) *fakedriver.Driver {
	d := fakedriver.New(func() time.Time { return t0 })
	d.AddImage(image, b)
	return d
}

func spec(name string) ports.ContainerSpec {
	return ports.ContainerSpec{Name: name, Image: image, Port: 8080,
		Env:    map[string]string{"GAME_ID": name},
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: name}}
}

func mustStart(t *testing.T, d *fakedriver.Driver, name string) ports.Container {
	t.Helper()
	c, err := d.Start(t.Context(), spec(name))
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	return c
}

func mustInspect(t *testing.T, d *fakedriver.Driver, id string) ports.Container {
	t.Helper()
	c, err := d.Inspect(t.Context(), id)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", id, err)
	}
	return c
}

// subscribe opens an event stream that ends with the test.
func subscribe(t *testing.T, d *fakedriver.Driver) <-chan ports.Event {
	t.Helper()
	ch, err := d.Events(t.Context())
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return ch
}

// nextEvents receives n events or fails after a deadline.
func nextEvents(t *testing.T, ch <-chan ports.Event, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed after %v", got)
			}
			got = append(got, fmt.Sprintf("%s:%d", ev.Type, ev.ExitCode))
		case <-deadline:
			t.Fatalf("got events %v, waited in vain for %d", got, n)
		}
	}
	return got
}

func TestStart(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	a := mustStart(t, d, "rtm-a-1")
	b := mustStart(t, d, "rtm-b-1")
	if !hex64.MatchString(a.ID) || !hex64.MatchString(b.ID) || a.ID == b.ID {
		t.Fatalf("ids %q and %q: want two distinct 64-hex-char ids", a.ID, b.ID)
	}
	if a.Endpoint == b.Endpoint || !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(a.Endpoint) {
		t.Errorf("endpoints %q and %q: want distinct 127.0.0.1:<port>", a.Endpoint, b.Endpoint)
	}
	want := ports.Container{ID: a.ID, Name: "rtm-a-1", Image: image, Labels: spec("rtm-a-1").Labels,
		State: ports.StateRunning, Endpoint: a.Endpoint, CreatedAt: t0, StartedAt: t0}
	if d := cmp.Diff(want, a); d != "" {
		t.Errorf("started container (-want +got):\n%s", d)
	}
	if again := mustStart(t, d, "rtm-a-1"); again.ID != a.ID {
		t.Errorf("second Start of a running name made %s, want %s again", again.ID, a.ID)
	}
	if err := d.Exit(a.ID, 1); err != nil {
		t.Fatal(err)
	}
	if fresh := mustStart(t, d, "rtm-a-1"); fresh.ID == a.ID || fresh.State != ports.StateRunning {
		t.Errorf("Start of an exited name returned %+v, want a new running container", fresh)
	}
	if got, ok := d.Spec(b.ID); !ok || got.Env["GAME_ID"] != "rtm-b-1" {
		t.Errorf("Spec(b) = %+v, %v", got, ok)
	}
	if n := len(d.Containers()); n != 2 {
		t.Errorf("Containers() has %d entries, want 2", n)
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name     string
		behavior fakedriver.Behavior
		spec     ports.ContainerSpec
		want     error
	}{
		{"UnknownImage", fakedriver.Behavior{}, ports.ContainerSpec{Name: "x", Image: "missing:1", Port: 8080}, ports.ErrImageUnavailable},
		{"NoName", fakedriver.Behavior{}, ports.ContainerSpec{Image: image, Port: 8080}, ports.ErrInvalid},
		{"BadHostIP", fakedriver.Behavior{}, ports.ContainerSpec{Name: "x", Image: image, Port: 8080, HostIP: "localhost"}, ports.ErrInvalid},
		{"StartErr", fakedriver.Behavior{StartErr: errBoom}, spec("x"), errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(tc.behavior)
			if _, err := d.Start(t.Context(), tc.spec); !errors.Is(err, tc.want) {
				t.Fatalf("Start: %v, want %v", err, tc.want)
			}
			if n := len(d.Containers()); n != 0 {
				t.Errorf("a failed Start left %d containers", n)
			}
		})
	}
	d := newDriver(fakedriver.Behavior{})
	if err := d.PrepareImage(t.Context(), "missing:1"); !errors.Is(err, ports.ErrImageUnavailable) {
		t.Errorf("PrepareImage(missing): %v, want ErrImageUnavailable", err)
	}
	if err := d.PrepareImage(t.Context(), image); err != nil {
		t.Errorf("PrepareImage(registered): %v", err)
	}
}

func TestExitOnStart(t *testing.T) {
	d := newDriver(fakedriver.Behavior{ExitOnStart: true, ExitCode: 3})
	ch := subscribe(t, d)
	c := mustStart(t, d, "rtm-a-1")
	if c.State != ports.StateRunning {
		t.Errorf("Start returned state %s, want running", c.State)
	}
	if got := mustInspect(t, d, c.ID); got.State != ports.StateExited || got.ExitCode != 3 || got.Endpoint != "" {
		t.Errorf("Inspect after start-up crash = %+v, want exited with code 3", got)
	}
	if d := cmp.Diff([]string{"started:0", "exited:3"}, nextEvents(t, ch, 2)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name     string
		behavior fakedriver.Behavior
		timeout  time.Duration
		wantCode int
	}{
		{"Graceful", fakedriver.Behavior{}, time.Second, 0},
		{"SlowWithinTimeout", fakedriver.Behavior{StopDelay: time.Second}, 2 * time.Second, 0},
		{"SlowBeyondTimeout", fakedriver.Behavior{StopDelay: 3 * time.Second}, 2 * time.Second, 137},
		{"IgnoresSIGTERM", fakedriver.Behavior{IgnoreSIGTERM: true}, time.Hour, 137},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(tc.behavior)
			ch := subscribe(t, d)
			c := mustStart(t, d, "rtm-a-1")
			start := time.Now()
			if err := d.Stop(t.Context(), c.ID, tc.timeout); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("Stop took %v; the delay must be simulated", el)
			}
			got := mustInspect(t, d, c.ID)
			if got.State != ports.StateExited || got.ExitCode != tc.wantCode {
				t.Errorf("after Stop: state %s code %d, want exited %d", got.State, got.ExitCode, tc.wantCode)
			}
			if err := d.Stop(t.Context(), c.ID, tc.timeout); err != nil {
				t.Errorf("Stop of an exited container: %v", err)
			}
			want := []string{"started:0", fmt.Sprintf("exited:%d", tc.wantCode)}
			if d := cmp.Diff(want, nextEvents(t, ch, 2)); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestMissingContainer(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	ctx := t.Context()
	if err := d.Stop(ctx, "nope", time.Second); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Stop: %v, want ErrNotFound", err)
	}
	if _, err := d.Inspect(ctx, "nope"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Inspect: %v, want ErrNotFound", err)
	}
	if err := d.Remove(ctx, "nope"); err != nil {
		t.Errorf("Remove: %v, want nil", err)
	}
	for name, hook := range map[string]func() error{
		"Vanish":   func() error { return d.Vanish("nope") },
		"Exit":     func() error { return d.Exit("nope", 1) },
		"OOM":      func() error { return d.OOM("nope") },
		"SetReady": func() error { return d.SetReady("nope", true) },
	} {
		if err := hook(); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func TestRemove(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	ch := subscribe(t, d)
	c := mustStart(t, d, "rtm-a-1")
	for i := range 2 {
		if err := d.Remove(t.Context(), c.ID); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	if _, err := d.Inspect(t.Context(), c.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
	}
	if d := cmp.Diff([]string{"started:0", "exited:137", "removed:0"}, nextEvents(t, ch, 3)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestList(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	a, b := mustStart(t, d, "rtm-a-1"), mustStart(t, d, "rtm-b-1")
	if err := d.Stop(t.Context(), b.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	unmanaged, err := d.Start(t.Context(), ports.ContainerSpec{Name: "other", Image: image, Port: 8080})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		labels map[string]string
		want   []string
	}{
		{nil, []string{a.ID, b.ID, unmanaged.ID}},
		{map[string]string{ports.LabelManaged: "true"}, []string{a.ID, b.ID}},
		{map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "rtm-b-1"}, []string{b.ID}},
		{map[string]string{ports.LabelGameID: "rtm-b-1", "other": "x"}, nil},
	}
	for _, tc := range tests {
		got, err := d.List(t.Context(), tc.labels)
		if err != nil {
			t.Fatalf("List(%v): %v", tc.labels, err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if d := cmp.Diff(tc.want, ids); d != "" {
			t.Errorf("List(%v) (-want +got):\n%s", tc.labels, d)
		}
	}
}

func TestEventsFanOutAndClose(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	ctx1, cancel1 := context.WithCancel(t.Context())
	ch1, err := d.Events(ctx1)
	if err != nil {
		t.Fatal(err)
	}
	ch2 := subscribe(t, d)
	if n := d.Subscribers(); n != 2 {
		t.Fatalf("Subscribers() = %d, want 2", n)
	}
	if _, err := d.Start(t.Context(), ports.ContainerSpec{Name: "unmanaged", Image: image, Port: 8080}); err != nil {
		t.Fatal(err)
	}
	c := mustStart(t, d, "rtm-a-1")
	if err := d.EmitHealth(c.ID, "unhealthy"); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan ports.Event{ch1, ch2} {
		if d := cmp.Diff([]string{"started:0", "health:0"}, nextEvents(t, ch, 2)); d != "" {
			t.Errorf("subscriber %d events (-want +got):\n%s", i+1, d)
		}
	}
	cancel1()
	deadline := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch1:
		case <-deadline:
			t.Fatal("channel not closed after its ctx ended")
		}
	}
	if n := d.Subscribers(); n != 1 {
		t.Errorf("Subscribers() after one ctx ended = %d, want 1", n)
	}
}

func TestConcurrentStarts(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Go(func() {
			c, err := d.Start(t.Context(), spec(fmt.Sprintf("rtm-g%d-1", i%25)))
			if err != nil {
				t.Errorf("Start: %v", err)
				return
			}
			ids[i] = c.ID
		})
	}
	wg.Wait()
	for i := range 25 {
		if ids[i] != ids[i+25] {
			t.Errorf("two Starts of one name made two containers: %s and %s", ids[i], ids[i+25])
		}
	}
	if n := len(d.Containers()); n != 25 {
		t.Errorf("Containers() has %d entries, want 25", n)
	}
}
