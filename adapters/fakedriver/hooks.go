package fakedriver

import (
	"context"
	"fmt"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/ports"
)

// AddImage registers ref as present with behaviour b, replacing an earlier
// registration. Containers keep the behaviour of their image at Start.
func (d *Driver) AddImage(ref string, b Behavior) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.images[ref] = b
}

// RemoveImage unregisters ref: it becomes unavailable.
func (d *Driver) RemoveImage(ref string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.images, ref)
}

// SetDown makes every driver call (not Probe) fail with an error wrapping
// ports.ErrUnavailable while down is true. Containers and subscriptions
// survive the outage.
func (d *Driver) SetDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

// Vanish deletes container id behind the manager's back (running or not)
// and emits EventRemoved. Errors: ErrNotFound.
func (d *Driver) Vanish(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return fmt.Errorf("fake driver: vanish: %w", err)
	}
	c.halt()
	d.forget(c)
	d.emit(c, ports.EventRemoved, 0)
	return nil
}

// Exit makes running container id exit with code and emits EventExited.
// Errors: ErrNotFound, or a plain error when it is not running.
func (d *Driver) Exit(id string, code int) error {
	return d.kill(id, code, false)
}

// OOM makes running container id die of memory exhaustion: EventOOM, then
// EventExited with code 137, and OOMKilled set. Errors: as Exit.
func (d *Driver) OOM(id string) error {
	return d.kill(id, KillExitCode, true)
}

func (d *Driver) kill(id string, code int, oom bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return fmt.Errorf("fake driver: exit: %w", err)
	}
	if c.c.State != ports.StateRunning {
		return fmt.Errorf("fake driver: exit: container %q is %s, not running", id, c.c.State)
	}
	d.exit(c, code, oom)
	return nil
}

// SetReady sets whether running container id is ready: whether the Prober
// finds it so and, on a live driver, whether its GET /healthz answers 200.
// Errors: ErrNotFound.
func (d *Driver) SetReady(id string, ready bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return fmt.Errorf("fake driver: set ready: %w", err)
	}
	c.ready = ready
	return nil
}

// Containers returns a snapshot of every container in creation order.
func (d *Driver) Containers() []ports.Container {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []ports.Container{}
	for _, c := range d.sorted() {
		out = append(out, copyContainer(c.c))
	}
	return out
}

// Spec returns the spec container id was started from, and false when
// there is no such container.
func (d *Driver) Spec(id string) (ports.ContainerSpec, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.containers[id]
	if !ok {
		return ports.ContainerSpec{}, false
	}
	return copySpec(c.spec), true
}

// Prober is a ports.Prober over the fake driver's containers.
type Prober struct{ d *Driver }

var _ ports.Prober = (*Prober)(nil)

// Prober returns a prober that finds an endpoint healthy iff a running,
// ready container of this driver has it.
func (d *Driver) Prober() *Prober { return &Prober{d: d} }

// Probe implements ports.Prober. Faults set on MethodProbe apply; the
// driver's down switch does not, as engines outlive their runtime's API.
func (p *Prober) Probe(ctx context.Context, endpoint string) error {
	if err := faults.Enter(p.d.Set, MethodProbe); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake probe %s: %w", endpoint, err)
	}
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	for _, c := range p.d.containers {
		if c.c.State == ports.StateRunning && c.c.Endpoint == endpoint {
			if !c.ready {
				return fmt.Errorf("fake probe %s: engine answered 503: not ready", endpoint)
			}
			return nil
		}
	}
	return fmt.Errorf("fake probe %s: connection refused", endpoint)
}
