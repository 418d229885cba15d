package driverplugin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/ports"
)

// stubDriver answers every call with its fixed container, events or err.
// It is an error-injection stub for the protocol layer, not a driver fake.
type stubDriver struct {
	err    error
	c      ports.Container
	events []ports.Event
	got    ports.ContainerSpec
}

var _ ports.RuntimeDriver = (*stubDriver)(nil)

func (s *stubDriver) PrepareImage(context.Context, string) error { return s.err }
func (s *stubDriver) Start(_ context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	s.got = spec
	return s.c, s.err
}
func (s *stubDriver) Stop(context.Context, string, time.Duration) error        { return s.err }
func (s *stubDriver) Remove(context.Context, string) error                     { return s.err }
func (s *stubDriver) Inspect(context.Context, string) (ports.Container, error) { return s.c, s.err }
func (s *stubDriver) List(context.Context, map[string]string) ([]ports.Container, error) {
	return []ports.Container{s.c}, s.err
}
func (s *stubDriver) Capabilities(context.Context) (ports.Capabilities, error) {
	return ports.Capabilities{Name: "stub", Version: "1", Fingerprint: "fp", OOMEvents: true, RemoteEndpoints: true}, s.err
}
func (s *stubDriver) Events(ctx context.Context) (<-chan ports.Event, error) {
	if s.err != nil {
		return nil, s.err
	}
	ch := make(chan ports.Event, len(s.events))
	for _, e := range s.events {
		ch <- e
	}
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// dial serves impl over an in-memory go-plugin gRPC connection and returns
// the dispensed client.
func dial(t testing.TB, impl ports.RuntimeDriver) *Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &DriverPlugin{Impl: impl}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatalf("Dispense: %v", err)
	}
	return raw.(*Client)
}

// TestBoundaryErrors: every sentinel a driver returns from every method
// arrives as the same sentinel on the host side.
func TestBoundaryErrors(t *testing.T) {
	for name, dial := range dialers {
		t.Run(name, func(t *testing.T) { testBoundaryErrors(t, dial) })
	}
}

// dialers are the two paths a call takes: gRPC (protocol versions 1 and 2)
// and the frame channel (version 3).
var dialers = map[string]func(testing.TB, ports.RuntimeDriver) *Client{"grpc": dial, "frames": dialFrames}

func testBoundaryErrors(t *testing.T, dial func(testing.TB, ports.RuntimeDriver) *Client) {
	stub := &stubDriver{}
	c := dial(t, stub)
	ctx := context.Background()
	calls := map[string]func() error{
		"PrepareImage": func() error { return c.PrepareImage(ctx, "img") },
		"Start":        func() error { _, err := c.Start(ctx, ports.ContainerSpec{Name: "n"}); return err },
		"Stop":         func() error { return c.Stop(ctx, "id", time.Second) },
		"Remove":       func() error { return c.Remove(ctx, "id") },
		"Inspect":      func() error { _, err := c.Inspect(ctx, "id"); return err },
		"List":         func() error { _, err := c.List(ctx, nil); return err },
		"Events":       func() error { _, err := c.Events(ctx); return err },
		"Capabilities": func() error { _, err := c.Capabilities(ctx); return err },
	}
	for _, s := range sentinels {
		stub.err = fmt.Errorf("driver says: %w", s.err)
		for name, call := range calls {
			if err := call(); !errors.Is(err, s.err) || err.Error() != stub.err.Error() {
				t.Errorf("%s returning %q arrived as %v", name, stub.err, err)
			}
		}
	}
}

// TestBoundaryValues: specs, containers, capabilities and events cross the
// boundary unchanged.
func TestBoundaryValues(t *testing.T) {
	for name, dial := range dialers {
		t.Run(name, func(t *testing.T) { testBoundaryValues(t, dial) })
	}
}

func testBoundaryValues(t *testing.T, dial func(testing.TB, ports.RuntimeDriver) *Client) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	stub := &stubDriver{
		c: ports.Container{
			ID: "abc", Name: "rtm-g-1", Image: "file:///e", Labels: map[string]string{ports.LabelGameID: "g"},
			State: ports.StateExited, ExitCode: 137, OOMKilled: true, Endpoint: "127.0.0.1:1",
			CreatedAt: now, StartedAt: now.Add(time.Second), FinishedAt: now.Add(2 * time.Second),
		},
		events: []ports.Event{
			{Type: ports.EventStarted, ContainerID: "abc", Labels: map[string]string{"k": "v"}, At: now},
			{Type: ports.EventExited, ContainerID: "abc", ExitCode: 3, At: now},
			{Type: ports.EventHealth, ContainerID: "abc", Health: "unhealthy", At: now},
		},
	}
	c := dial(t, stub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := ports.ContainerSpec{
		Name: "rtm-g-1", Image: "file:///e", Env: map[string]string{"A": "1"},
		Labels: map[string]string{"l": "v"}, Port: 8080, HostIP: "127.0.0.1",
		Limits: ports.Limits{MemoryBytes: 1 << 20, NanoCPUs: 5e8, PidsLimit: 64},
		User:   "1000:1000", ReadOnlyRootFS: true,
	}
	got, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec, stub.got); diff != "" {
		t.Errorf("spec crossed the boundary changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(stub.c, got); diff != "" {
		t.Errorf("container crossed the boundary changed (-want +got):\n%s", diff)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil || caps != (ports.Capabilities{Name: "stub", Version: "1", Fingerprint: "fp", OOMEvents: true, RemoteEndpoints: true}) {
		t.Errorf("Capabilities = %+v, %v", caps, err)
	}
	ch, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range stub.events {
		select {
		case e := <-ch:
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("event %d changed (-want +got):\n%s", i, diff)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d never arrived", i)
		}
	}
	cancel()
	for range ch { // the channel closes once ctx ends
	}
}
