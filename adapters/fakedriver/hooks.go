package fakedriver

import (
	"context"
	"fmt"

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

// FailNext makes the next call of method (one of the Method constants)
// fail with err before it has any effect; nil err means an error wrapping
// ports.ErrUnavailable. It replaces any fault set for method before.
func (d *Driver) FailNext(method string, err error) { d.faults.Fail(method, 0, 1, err) }

// FailNth lets n-1 further calls of method pass and fails the nth with err
// (nil: an error wrapping ports.ErrUnavailable). n must be at least 1.
func (d *Driver) FailNth(method string, n int, err error) {
	if n < 1 {
		panic("fake driver: FailNth needs n >= 1")
	}
	d.faults.Fail(method, n-1, 1, err)
}

// FailAlways makes every call of method fail with err (nil: an error
// wrapping ports.ErrUnavailable) until Heal.
func (d *Driver) FailAlways(method string, err error) { d.faults.Fail(method, 0, -1, err) }

// Heal removes every injected fault; it does not bring a down runtime up.
func (d *Driver) Heal() { d.faults.Heal() }

// Calls returns how many times method was called, failed calls included.
func (d *Driver) Calls(method string) int { return d.faults.Count(method) }

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
	delete(d.containers, id)
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

// SetReady sets whether the Prober finds running container id ready.
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
	if err := p.d.faults.Enter(MethodProbe); err != nil {
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
