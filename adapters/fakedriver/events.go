package fakedriver

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/galaxy-game/rtmanager/ports"
)

// subscriber queues events for one Events channel without bound, so
// emitting never blocks the driver on a slow reader.
type subscriber struct {
	mu    sync.Mutex
	queue []ports.Event
	wake  chan struct{}
}

func (s *subscriber) push(ev ports.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pop returns the oldest queued event.
func (s *subscriber) pop() (ports.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return ports.Event{}, false
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	return ev, true
}

// Events implements ports.RuntimeDriver: every subscriber gets every event
// of a managed container (label rtmanager.managed=true), in order, until
// its ctx ends and its channel is closed. Subscriptions survive SetDown.
func (d *Driver) Events(ctx context.Context) (<-chan ports.Event, error) {
	if err := d.enter(ctx, MethodEvents); err != nil {
		return nil, err
	}
	s := &subscriber{wake: make(chan struct{}, 1)}
	d.mu.Lock()
	d.subs[s] = struct{}{}
	d.mu.Unlock()
	out := make(chan ports.Event)
	go func() {
		defer close(out)
		defer func() {
			d.mu.Lock()
			delete(d.subs, s)
			d.mu.Unlock()
		}()
		for {
			ev, ok := s.pop()
			if !ok {
				select {
				case <-ctx.Done():
					return
				case <-s.wake:
					continue
				}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Subscribers returns how many Events channels are open, so a test can
// wait for a consumer to subscribe before it makes things happen.
func (d *Driver) Subscribers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.subs)
}

// emit sends an event about c to every subscriber; it runs under d.mu.
func (d *Driver) emit(c *container, t ports.EventType, exitCode int) {
	if c.c.Labels[ports.LabelManaged] != "true" {
		return
	}
	ev := ports.Event{Type: t, ContainerID: c.c.ID, ExitCode: exitCode, At: d.now()}
	for s := range d.subs {
		ev.Labels = maps.Clone(c.c.Labels)
		s.push(ev)
	}
}

// EmitHealth sends an EventHealth with the runtime-native status health
// for container id, as a runtime with its own health checks would.
func (d *Driver) EmitHealth(id, health string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(id)
	if err != nil {
		return fmt.Errorf("fake driver: emit health: %w", err)
	}
	if c.c.Labels[ports.LabelManaged] != "true" {
		return nil
	}
	for s := range d.subs {
		s.push(ports.Event{Type: ports.EventHealth, ContainerID: id, Labels: maps.Clone(c.c.Labels),
			Health: health, At: d.now()})
	}
	return nil
}
