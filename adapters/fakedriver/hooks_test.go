package fakedriver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/ports"
)

// calls invokes every method of d once by name.
func calls(ctx context.Context, d *fakedriver.Driver, id string) map[string]func() error {
	return map[string]func() error{
		fakedriver.MethodPrepareImage: func() error { return d.PrepareImage(ctx, image) },
		fakedriver.MethodStart:        func() error { _, err := d.Start(ctx, spec("rtm-z-1")); return err },
		fakedriver.MethodStop:         func() error { return d.Stop(ctx, id, time.Second) },
		fakedriver.MethodRemove:       func() error { return d.Remove(ctx, "gone") },
		fakedriver.MethodInspect:      func() error { _, err := d.Inspect(ctx, id); return err },
		fakedriver.MethodList:         func() error { _, err := d.List(ctx, nil); return err },
		fakedriver.MethodEvents:       func() error { _, err := d.Events(ctx); return err },
		fakedriver.MethodCapabilities: func() error { _, err := d.Capabilities(ctx); return err },
	}
}

func TestFaultHooks(t *testing.T) {
	tests := []struct {
		name   string
		inject func(d *fakedriver.Driver, method string)
		want   []bool // per call: fails with errBoom
	}{
		{"Next", func(d *fakedriver.Driver, m string) { d.FailNext(m, errBoom) }, []bool{true, false, false}},
		{"Third", func(d *fakedriver.Driver, m string) { d.FailNth(m, 3, errBoom) }, []bool{false, false, true, false}},
		{"Always", func(d *fakedriver.Driver, m string) { d.FailAlways(m, errBoom) }, []bool{true, true, true}},
		{"Healed", func(d *fakedriver.Driver, m string) { d.FailAlways(m, errBoom); d.Heal() }, []bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(fakedriver.Behavior{})
			c := mustStart(t, d, "rtm-a-1")
			for method, call := range calls(t.Context(), d, c.ID) {
				tc.inject(d, method)
				before := d.Calls(method)
				var got []bool
				for range tc.want {
					err := call()
					if err != nil && !errors.Is(err, errBoom) {
						t.Fatalf("%s: unexpected error %v", method, err)
					}
					got = append(got, err != nil)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s failures per call (-want +got):\n%s", method, diff)
				}
				if n := d.Calls(method) - before; n != len(tc.want) {
					t.Errorf("Calls(%s) grew by %d, want %d", method, n, len(tc.want))
				}
			}
		})
	}
}

func TestFaultHasNoEffect(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	d.FailNext(fakedriver.MethodStart, nil)
	if _, err := d.Start(t.Context(), spec("rtm-a-1")); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Start with a nil injected error: %v, want ErrUnavailable", err)
	}
	if n := len(d.Containers()); n != 0 {
		t.Errorf("a failed Start left %d containers", n)
	}
}

func TestSetDown(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	c := mustStart(t, d, "rtm-a-1")
	d.SetDown(true)
	for method, call := range calls(t.Context(), d, c.ID) {
		if err := call(); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("%s while down: %v, want ErrUnavailable", method, err)
		}
	}
	if err := d.Prober().Probe(t.Context(), c.Endpoint); err != nil {
		t.Errorf("Probe while the runtime API is down: %v, want nil (the engine still runs)", err)
	}
	d.SetDown(false)
	if got := mustInspect(t, d, c.ID); got.State != ports.StateRunning {
		t.Errorf("container after the outage is %s, want running", got.State)
	}
}

func TestContainerHooks(t *testing.T) {
	tests := []struct {
		name       string
		hook       func(d *fakedriver.Driver, id string) error
		wantEvents []string
		// wantState is the state Inspect reports afterwards; "" means gone.
		wantState ports.ContainerState
		wantCode  int
		wantOOM   bool
		wantReady bool
	}{
		{"Vanish", func(d *fakedriver.Driver, id string) error { return d.Vanish(id) },
			[]string{"removed:0"}, "", 0, false, false},
		{"Exit", func(d *fakedriver.Driver, id string) error { return d.Exit(id, 42) },
			[]string{"exited:42"}, ports.StateExited, 42, false, false},
		{"OOM", func(d *fakedriver.Driver, id string) error { return d.OOM(id) },
			[]string{"oom:0", "exited:137"}, ports.StateExited, 137, true, false},
		{"NotReady", func(d *fakedriver.Driver, id string) error { return d.SetReady(id, false) },
			nil, ports.StateRunning, 0, false, false},
		{"Untouched", func(*fakedriver.Driver, string) error { return nil },
			nil, ports.StateRunning, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(fakedriver.Behavior{})
			c := mustStart(t, d, "rtm-a-1")
			ch := subscribe(t, d) // after the start: only the hook's events
			if err := tc.hook(d, c.ID); err != nil {
				t.Fatalf("hook: %v", err)
			}
			if len(tc.wantEvents) > 0 {
				if diff := cmp.Diff(tc.wantEvents, nextEvents(t, ch, len(tc.wantEvents))); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			}
			got, err := d.Inspect(t.Context(), c.ID)
			switch {
			case tc.wantState == "":
				if !errors.Is(err, ports.ErrNotFound) {
					t.Errorf("Inspect: %v, want ErrNotFound", err)
				}
			case err != nil:
				t.Fatalf("Inspect: %v", err)
			case got.State != tc.wantState || got.ExitCode != tc.wantCode || got.OOMKilled != tc.wantOOM:
				t.Errorf("Inspect = state %s code %d oom %v; want %s %d %v",
					got.State, got.ExitCode, got.OOMKilled, tc.wantState, tc.wantCode, tc.wantOOM)
			}
			perr := d.Prober().Probe(t.Context(), c.Endpoint)
			if (perr == nil) != tc.wantReady {
				t.Errorf("Probe = %v, want ready %v", perr, tc.wantReady)
			}
		})
	}
}

func TestProber(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	d.AddImage("slow:1", fakedriver.Behavior{NeverReady: true})
	c := mustStart(t, d, "rtm-a-1")
	s := spec("rtm-b-1")
	s.Image = "slow:1"
	slow, err := d.Start(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	p := d.Prober()
	if err := p.Probe(t.Context(), slow.Endpoint); err == nil {
		t.Error("Probe of a never-ready engine succeeded")
	}
	if err := d.SetReady(slow.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(t.Context(), slow.Endpoint); err != nil {
		t.Errorf("Probe after SetReady(true): %v", err)
	}
	if err := p.Probe(t.Context(), "127.0.0.1:1"); err == nil {
		t.Error("Probe of an unknown endpoint succeeded")
	}
	d.FailNext(fakedriver.MethodProbe, errBoom)
	if err := p.Probe(t.Context(), c.Endpoint); !errors.Is(err, errBoom) {
		t.Errorf("Probe with a fault: %v, want errBoom", err)
	}
	if err := p.Probe(t.Context(), c.Endpoint); err != nil {
		t.Errorf("Probe after the fault: %v", err)
	}
	if n := d.Calls(fakedriver.MethodProbe); n != 5 {
		t.Errorf("Calls(Probe) = %d, want 5", n)
	}
}

func TestHookOnExitedContainer(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	c := mustStart(t, d, "rtm-a-1")
	if err := d.Exit(c.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Exit(c.ID, 1); err == nil {
		t.Error("Exit of an exited container succeeded")
	}
	if err := d.OOM(c.ID); err == nil {
		t.Error("OOM of an exited container succeeded")
	}
}

func TestUnknownMethodPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("FailNext of an unknown method did not panic")
		}
	}()
	newDriver(fakedriver.Behavior{}).FailNext("Strat", errBoom)
}
