// Package fakedriver is a stateful in-memory ports.RuntimeDriver for core
// unit tests. Containers live in a map, time comes from an injectable clock,
// stop timeouts are simulated rather than waited for, and hooks let a test
// fail calls, make containers exit, run out of memory, vanish or turn
// unready, or take the whole runtime down.
package fakedriver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"maps"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// Method names accepted by the fault hooks and Calls. MethodProbe names the
// Probe method of the driver's Prober.
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

// firstPort is the first fake host port handed out.
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
	// StopDelay is how long a container takes to exit after SIGTERM. The
	// delay is simulated: when it exceeds Stop's timeout the container is
	// killed (exit code 137) at once; no time passes either way.
	StopDelay time.Duration
	// IgnoreSIGTERM: containers never exit on SIGTERM, so Stop always
	// escalates to SIGKILL (exit code 137).
	IgnoreSIGTERM bool
}

// container is the driver's state of one container.
type container struct {
	c        ports.Container
	spec     ports.ContainerSpec
	behavior Behavior
	ready    bool
	seq      int
}

// Driver is the fake runtime driver. It is safe for concurrent use; the
// zero value is not usable, call New.
type Driver struct {
	now         func() time.Time
	faults      *faults.Set
	fingerprint string

	mu         sync.Mutex
	down       bool
	images     map[string]Behavior
	containers map[string]*container
	seq        int
	nextPort   int
	subs       map[*subscriber]struct{}
}

var _ ports.RuntimeDriver = (*Driver)(nil)

// New returns a Driver without images or containers that reads time from
// now; nil means time.Now.
func New(now func() time.Time) *Driver {
	if now == nil {
		now = time.Now
	}
	fp := make([]byte, 8)
	if _, err := rand.Read(fp); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &Driver{
		now: now,
		faults: faults.New("fake driver", MethodPrepareImage, MethodStart, MethodStop, MethodRemove,
			MethodInspect, MethodList, MethodEvents, MethodCapabilities, MethodProbe),
		fingerprint: "fake-" + hex.EncodeToString(fp),
		images:      map[string]Behavior{},
		containers:  map[string]*container{},
		nextPort:    firstPort,
		subs:        map[*subscriber]struct{}{},
	}
}

// enter counts a call, applies injected faults and the down switch, and
// checks ctx.
func (d *Driver) enter(ctx context.Context, method string) error {
	if err := d.faults.Enter(method); err != nil {
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
// is returned as is; one that exited is removed and replaced.
func (d *Driver) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	if err := d.enter(ctx, MethodStart); err != nil {
		return ports.Container{}, err
	}
	if spec.Name == "" || spec.Image == "" {
		return ports.Container{}, fmt.Errorf("fake driver: start: spec needs a name and an image: %w", ports.ErrInvalid)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.byName(spec.Name); old != nil {
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
	d.seq++
	d.nextPort++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s", d.fingerprint, d.seq, spec.Name)))
	host := spec.HostIP
	if host == "" {
		host = "127.0.0.1"
	}
	now := d.now()
	c := &container{
		c: ports.Container{
			ID:        hex.EncodeToString(sum[:]),
			Name:      spec.Name,
			Image:     spec.Image,
			Labels:    maps.Clone(spec.Labels),
			State:     ports.StateRunning,
			Endpoint:  net.JoinHostPort(host, strconv.Itoa(d.nextPort)),
			CreatedAt: now,
			StartedAt: now,
		},
		spec:     copySpec(spec),
		behavior: b,
		ready:    !b.NeverReady,
		seq:      d.seq,
	}
	d.containers[c.c.ID] = c
	d.emit(c, ports.EventStarted, 0)
	out := copyContainer(c.c)
	if b.ExitOnStart {
		d.exit(c, b.ExitCode, false)
	}
	return out, nil
}

// Stop implements ports.RuntimeDriver. The container exits with code 0,
// or 137 when its image ignores SIGTERM or its StopDelay exceeds timeout.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if err := d.enter(ctx, MethodStop); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return err
	}
	if c.c.State != ports.StateRunning {
		return nil
	}
	code := 0
	if c.behavior.IgnoreSIGTERM || c.behavior.StopDelay > timeout {
		code = KillExitCode
	}
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
// per Driver.
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
	for _, c := range d.containers {
		if c.c.Name == name {
			return c
		}
	}
	return nil
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

// exit moves a running c to exited with code; it runs under d.mu.
func (d *Driver) exit(c *container, code int, oom bool) {
	if c.c.State != ports.StateRunning {
		return
	}
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
	delete(d.containers, c.c.ID)
	d.emit(c, ports.EventRemoved, 0)
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
