// Package fakedriver is a stateful in-memory ports.RuntimeDriver. It passes
// the driver conformance suite (ports/drivertest) like the real drivers.
//
// New makes the fake core unit tests use: containers live in a map, time
// comes from an injectable clock, stop timeouts are simulated rather than
// waited for, endpoints are addresses nobody listens on (the driver's
// Prober answers for them), and hooks let a test fail calls, make
// containers exit, run out of memory, vanish or turn unready, or take the
// whole runtime down. NewLive makes the fake the conformance suite runs:
// real time, and every running container serves HTTP on a real loopback
// endpoint as the test engine does.
//
// A container behaves as its image's Behavior says, and as the test engine
// (e2e/engine) does with the ENGINE_* variables of its env
// (internal/testengine).
package fakedriver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/ports"
)

// Method names accepted by FailNext, FailNth, FailAlways and Calls.
// MethodProbe names the Probe method of the driver's Prober.
const (
	MethodPrepareImage = "PrepareImage"
	MethodStart        = "Start"
	MethodStop         = "Stop"
	MethodRemove       = "Remove"
	MethodInspect      = "Inspect"
	MethodList         = "List"
	MethodEvents       = "Events"
	MethodCapabilities = "Capabilities"
	MethodProbe        = "Probe"
)

// KillExitCode is the exit code of a container killed by SIGKILL.
const KillExitCode = 137

// firstPort is the first fake host port handed out by a Driver from New.
const firstPort = 30000

// Behavior says how the containers of one image behave. The zero value is a
// well-behaved engine: it starts, becomes ready and exits with code 0 on
// SIGTERM.
type Behavior struct {
	// StartErr makes Start fail with this error (wrapped), leaving nothing
	// behind, as a runtime that cannot create or start the container.
	StartErr error
	// ExitOnStart makes each container exit with ExitCode right after
	// Start returned it running, as an engine that dies during start-up.
	// Inspect then reports it exited, and EventExited is emitted.
	ExitOnStart bool
	// ExitCode is the exit code of ExitOnStart.
	ExitCode int
	// NeverReady: containers run, but the Prober never finds them ready.
	NeverReady bool
	// StopDelay is how long a container takes to exit after SIGTERM; when
	// it exceeds Stop's timeout the container is killed (exit code 137)
	// once the timeout has passed. A Driver from New simulates the wait (no
	// time passes); one from NewLive waits.
	StopDelay time.Duration
	// IgnoreSIGTERM: containers never exit on SIGTERM, so Stop always
	// escalates to SIGKILL (exit code 137) after its timeout.
	IgnoreSIGTERM bool
}

// Driver is the fake runtime driver. It is safe for concurrent use; the
// zero value is not usable, call New or NewLive. Its embedded fault Set
// fails the methods named by the Method constants on demand (FailNext,
// FailNth, FailAlways, Heal) before they have any effect, and counts their
// calls (Calls).
//
// A Driver is a runtime and its client in one: every manager instance of a
// test that shares a runtime shares one Driver.
type Driver struct {
	*faults.Set
	now         func() time.Time
	live        bool
	fingerprint string

	mu         sync.Mutex
	down       bool
	images     map[string]Behavior
	containers map[string]*container
	// names indexes containers by name (names are unique: Start replaces
	// a container of the same name), so Start does not scan them all.
	names    map[string]*container
	seq      int
	nextPort int
	subs     map[*subscriber]struct{}
}

var _ ports.RuntimeDriver = (*Driver)(nil)

// New returns a Driver without images or containers for unit tests: it
// reads time from now (nil means time.Now), simulates stop timeouts and
// hands out endpoints nobody listens on.
func New(now func() time.Time) *Driver {
	if now == nil {
		now = time.Now
	}
	fp := make([]byte, 8)
	_, _ = rand.Read(fp) // never returns an error (crypto/rand, Go 1.24+)
	return &Driver{
		Set: faults.New("fake driver", MethodPrepareImage, MethodStart, MethodStop, MethodRemove,
			MethodInspect, MethodList, MethodEvents, MethodCapabilities, MethodProbe),
		now:         now,
		fingerprint: "fake-" + hex.EncodeToString(fp),
		images:      map[string]Behavior{},
		containers:  map[string]*container{},
		names:       map[string]*container{},
		nextPort:    firstPort,
		subs:        map[*subscriber]struct{}{},
	}
}

// NewLive returns a Driver without images or containers that behaves in
// real time on the loopback network, as a real runtime does: Stop waits
// for an engine slow to exit (up to its timeout), and every running
// container serves the test engine's HTTP API on its endpoint (GET /healthz
// answers 200 while the container is ready and 503 otherwise; GET /env
// answers the env the engine sees, PORT included). A container's engine
// stops serving when it exits or is removed.
func NewLive() *Driver {
	d := New(nil)
	d.live = true
	return d
}

// enter counts a call, applies injected faults and the down switch, and
// checks ctx.
func (d *Driver) enter(ctx context.Context, method string) error {
	if err := faults.Enter(d.Set, method); err != nil {
		return err
	}
	d.mu.Lock()
	down := d.down
	d.mu.Unlock()
	if down {
		return fmt.Errorf("fake driver %s: runtime is down: %w", method, ports.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake driver %s: %w", method, err)
	}
	return nil
}

// PrepareImage implements ports.RuntimeDriver: registered images are
// present, any other is unavailable.
func (d *Driver) PrepareImage(ctx context.Context, image string) error {
	if err := d.enter(ctx, MethodPrepareImage); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.images[image]; !ok {
		return fmt.Errorf("fake driver: pull %q: %w", image, ports.ErrImageUnavailable)
	}
	return nil
}

// Start implements ports.RuntimeDriver. A container of spec.Name that runs
// is returned as is and one that exited is replaced, but only when it
// belongs to the same deployment scope, game, generation and image (SPEC
// §11 "Scopes"); otherwise Start fails with ErrConflict and leaves it be.
func (d *Driver) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	if err := d.enter(ctx, MethodStart); err != nil {
		return ports.Container{}, err
	}
	host, err := checkSpec(spec)
	if err != nil {
		return ports.Container{}, fmt.Errorf("fake driver: start %s: %w", spec.Name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.byName(spec.Name); old != nil {
		if err := ports.CheckOwner(spec, old.c.Labels); err != nil {
			return ports.Container{}, fmt.Errorf("fake driver: start: %w", err)
		}
		if old.c.State == ports.StateRunning {
			return copyContainer(old.c), nil
		}
		d.delete(old)
	}
	b, ok := d.images[spec.Image]
	if !ok {
		return ports.Container{}, fmt.Errorf("fake driver: start %s: image %q: %w", spec.Name, spec.Image, ports.ErrImageUnavailable)
	}
	if b.StartErr != nil {
		return ports.Container{}, fmt.Errorf("fake driver: start %s: %w", spec.Name, b.StartErr)
	}
	c, err := d.create(spec, b, host)
	if err != nil {
		return ports.Container{}, fmt.Errorf("fake driver: start %s: %w", spec.Name, err)
	}
	d.emit(c, ports.EventStarted, 0)
	out := copyContainer(c.c)
	d.run(c)
	return out, nil
}

// checkSpec validates spec and returns the host address to publish on.
func checkSpec(spec ports.ContainerSpec) (string, error) {
	if spec.Name == "" || spec.Image == "" {
		return "", fmt.Errorf("spec needs a name and an image: %w", ports.ErrInvalid)
	}
	if spec.HostIP == "" {
		return "127.0.0.1", nil
	}
	if _, err := netip.ParseAddr(spec.HostIP); err != nil {
		return "", fmt.Errorf("host ip: %v: %w", err, ports.ErrInvalid)
	}
	return spec.HostIP, nil
}

// create makes a running container of spec and registers it; it runs
// under d.mu. A live driver starts its engine's HTTP server.
func (d *Driver) create(spec ports.ContainerSpec, b Behavior, host string) (*container, error) {
	d.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s", d.fingerprint, d.seq, spec.Name)))
	now := d.now()
	c := &container{
		c: ports.Container{
			ID:        hex.EncodeToString(sum[:]),
			Name:      spec.Name,
			Image:     spec.Image,
			Labels:    maps.Clone(spec.Labels),
			State:     ports.StateRunning,
			CreatedAt: now,
			StartedAt: now,
		},
		spec:     copySpec(spec),
		behavior: b,
		ready:    !b.NeverReady,
		seq:      d.seq,
		done:     make(chan struct{}),
	}
	if d.live {
		endpoint, err := c.serve(d, host)
		if err != nil {
			return nil, err
		}
		c.c.Endpoint = endpoint
	} else {
		d.nextPort++
		c.c.Endpoint = net.JoinHostPort(host, strconv.Itoa(d.nextPort))
	}
	d.containers[c.c.ID] = c
	d.names[c.c.Name] = c
	return c, nil
}

// Stop implements ports.RuntimeDriver. The container exits with code 0
// after its StopDelay, or is killed (code 137) once timeout has passed
// when its engine ignores SIGTERM or is slower than that.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if err := d.enter(ctx, MethodStop); err != nil {
		return err
	}
	d.mu.Lock()
	c, err := d.get(id)
	if err != nil || c.c.State != ports.StateRunning {
		d.mu.Unlock()
		return err
	}
	code, wait := 0, c.behavior.StopDelay
	if c.ignoresSIGTERM() || wait > timeout {
		code, wait = KillExitCode, timeout
	}
	done := c.done
	d.mu.Unlock()
	if d.live && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-done: // it exited (or was removed) meanwhile
			return nil
		case <-ctx.Done():
			return fmt.Errorf("fake driver: stop %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.exit(c, code, false)
	return nil
}

// Remove implements ports.RuntimeDriver: a running container is killed
// first (EventExited 137), then EventRemoved is emitted.
func (d *Driver) Remove(ctx context.Context, id string) error {
	if err := d.enter(ctx, MethodRemove); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.containers[id]; ok {
		d.delete(c)
	}
	return nil
}

// Inspect implements ports.RuntimeDriver.
func (d *Driver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	if err := d.enter(ctx, MethodInspect); err != nil {
		return ports.Container{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return ports.Container{}, err
	}
	return copyContainer(c.c), nil
}

// List implements ports.RuntimeDriver, in creation order.
func (d *Driver) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	if err := d.enter(ctx, MethodList); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []ports.Container{}
	for _, c := range d.sorted() {
		if hasLabels(c.c.Labels, labels) {
			out = append(out, copyContainer(c.c))
		}
	}
	return out, nil
}

// Capabilities implements ports.RuntimeDriver. The fingerprint is unique
// per Driver, that is per runtime.
func (d *Driver) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	if err := d.enter(ctx, MethodCapabilities); err != nil {
		return ports.Capabilities{}, err
	}
	return ports.Capabilities{Name: "fake", Version: "1.0.0", Fingerprint: d.fingerprint,
		PublishesPorts: true, OOMEvents: true}, nil
}

// get returns the container id or ErrNotFound; it runs under d.mu.
func (d *Driver) get(id string) (*container, error) {
	c, ok := d.containers[id]
	if !ok {
		return nil, fmt.Errorf("fake driver: container %q: %w", id, ports.ErrNotFound)
	}
	return c, nil
}

// byName returns the container named name, or nil; it runs under d.mu.
func (d *Driver) byName(name string) *container {
	return d.names[name]
}

// sorted returns the containers in creation order; it runs under d.mu.
func (d *Driver) sorted() []*container {
	out := make([]*container, 0, len(d.containers))
	for _, c := range d.containers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// exit moves a running c to exited with code and ends its engine; it runs
// under d.mu.
func (d *Driver) exit(c *container, code int, oom bool) {
	if c.c.State != ports.StateRunning {
		return
	}
	c.halt()
	if oom {
		c.c.OOMKilled = true
		d.emit(c, ports.EventOOM, 0)
	}
	c.c.State, c.c.ExitCode, c.c.Endpoint, c.c.FinishedAt = ports.StateExited, code, "", d.now()
	c.ready = false
	d.emit(c, ports.EventExited, code)
}

// delete kills c if it runs and deletes it; it runs under d.mu.
func (d *Driver) delete(c *container) {
	d.exit(c, KillExitCode, false)
	d.forget(c)
	d.emit(c, ports.EventRemoved, 0)
}

// forget drops c from the maps; it runs under d.mu.
func (d *Driver) forget(c *container) {
	delete(d.containers, c.c.ID)
	if d.names[c.c.Name] == c {
		delete(d.names, c.c.Name)
	}
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func copyContainer(c ports.Container) ports.Container {
	c.Labels = maps.Clone(c.Labels)
	return c
}

func copySpec(s ports.ContainerSpec) ports.ContainerSpec {
	s.Env = maps.Clone(s.Env)
	s.Labels = maps.Clone(s.Labels)
	return s
}
