package containerd

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/typeurl/v2"

	"github.com/galaxy-game/rtmanager/ports"
)

// Bounds of the back-off between re-subscription attempts after the event
// stream broke (typically because the daemon restarted).
const (
	resubscribeMin = 50 * time.Millisecond
	resubscribeMax = 2 * time.Second
)

// Event topics the driver subscribes to.
var topics = []string{"/tasks/start", "/tasks/exit", "/tasks/oom", "/containers/delete"}

// syncTopic carries the events a new subscription publishes to itself to
// learn that the daemon delivers to it.
const syncTopic = "/rtmanager/subscribed"

// Bounds of the wait for a subscription's sync event.
const (
	syncRetry   = 200 * time.Millisecond
	syncTimeout = 10 * time.Second
)

// Events streams started, exited, oom and removed events of the managed
// containers in the driver's namespace until ctx ends, then closes the
// channel. When the stream breaks it re-subscribes with back-off and then
// reports, as exited or removed, the containers it knew running whose task
// ended or which vanished while it was not listening. An event may
// therefore be reported twice; consumers must be idempotent. Errors (at
// subscription only): ports.ErrUnavailable.
func (d *Driver) Events(ctx context.Context) (<-chan ports.Event, error) {
	s := &eventStream{
		d:       d,
		out:     make(chan ports.Event, 64),
		labels:  map[string]map[string]string{},
		running: map[string]bool{},
	}
	sub, err := s.subscribe(ctx)
	if err != nil {
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	if err := s.snapshot(ctx, false); err != nil {
		sub.cancel()
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	go s.run(ctx, sub)
	return s.out, nil
}

// eventStream is the state of one Events subscription; only its run
// goroutine touches it once Events has returned.
type eventStream struct {
	d   *Driver
	out chan ports.Event
	// labels caches the labels of containers by id, so events of
	// containers deleted meanwhile still carry them.
	labels map[string]map[string]string
	// running holds true for containers last seen running and false for
	// those whose exit has been reported.
	running map[string]bool
}

// subscription is one live Subscribe call.
type subscription struct {
	envs   <-chan *events.Envelope
	errs   <-chan error
	cancel context.CancelFunc
	// pending are events received while waiting for the sync event.
	pending []*events.Envelope
}

// subscribe subscribes to the driver's topics and returns once the daemon
// is known to deliver to the new subscriber: it publishes a sync event of
// its own and waits for it, because the client returns before the server
// has registered the stream. Errors: ports.ErrUnavailable.
func (s *eventStream) subscribe(ctx context.Context) (subscription, error) {
	ns := s.d.cfg.Namespace
	filters := make([]string, 0, len(topics)+1)
	for _, t := range append(topics, syncTopic) {
		filters = append(filters, fmt.Sprintf("topic==%q,namespace==%q", t, ns))
	}
	sctx, cancel := context.WithCancel(ctx)
	envs, errs := s.d.client.Subscribe(sctx, filters...)
	sub := subscription{envs: envs, errs: errs, cancel: cancel}
	token := rand.Text()
	deadline := time.NewTimer(syncTimeout)
	defer deadline.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-retry.C:
			// Published again until seen: the first may precede the
			// server's registration of the stream.
			err := s.d.client.EventService().Publish(sctx, syncTopic, &apievents.ContainerUpdate{ID: token})
			if err != nil {
				cancel()
				return subscription{}, translate(err)
			}
			retry.Reset(syncRetry)
		case env := <-envs:
			if env.Topic != syncTopic {
				sub.pending = append(sub.pending, env)
				continue
			}
			if v, err := typeurl.UnmarshalAny(env.Event); err == nil {
				if u, ok := v.(*apievents.ContainerUpdate); ok && u.ID == token {
					return sub, nil
				}
			}
		case err := <-errs:
			cancel()
			return subscription{}, translate(err)
		case <-deadline.C:
			cancel()
			return subscription{}, fmt.Errorf("no sync event within %s: %w", syncTimeout, ports.ErrUnavailable)
		case <-ctx.Done():
			cancel()
			return subscription{}, ctx.Err()
		}
	}
}

func (s *eventStream) run(ctx context.Context, sub subscription) {
	defer close(s.out)
	for {
		for _, env := range sub.pending {
			s.handle(ctx, env)
		}
		sub.pending = nil
		select {
		case <-ctx.Done():
			sub.cancel()
			return
		case env := <-sub.envs:
			s.handle(ctx, env)
		case <-sub.errs:
			sub.cancel()
			var ok bool
			if sub, ok = s.resubscribe(ctx); !ok {
				return
			}
		}
	}
}

// resubscribe subscribes again once the daemon answers, then reports what
// happened while the stream was down. It returns false when ctx ended.
func (s *eventStream) resubscribe(ctx context.Context) (subscription, bool) {
	delay := resubscribeMin
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return subscription{}, false
		case <-t.C:
		}
		delay = min(2*delay, resubscribeMax)
		sub, err := s.subscribe(ctx)
		if err != nil {
			continue
		}
		if err := s.snapshot(ctx, true); err != nil {
			sub.cancel()
			continue
		}
		return sub, true
	}
}

// snapshot lists the managed containers to learn their labels and which
// run. With report set, it first emits exited and removed events for the
// containers it knew running that no longer are.
func (s *eventStream) snapshot(ctx context.Context, report bool) error {
	list, err := s.d.List(ctx, map[string]string{ports.LabelManaged: "true"})
	if err != nil {
		return err
	}
	now := time.Now()
	seen := make(map[string]bool, len(list))
	for _, c := range list {
		seen[c.ID] = true
		s.labels[c.ID] = c.Labels
		wasRunning := s.running[c.ID]
		s.running[c.ID] = c.State == ports.StateRunning
		if report && wasRunning && c.State == ports.StateExited {
			at := c.FinishedAt
			if at.IsZero() {
				at = now
			}
			if c.OOMKilled {
				s.send(ctx, ports.Event{Type: ports.EventOOM, ContainerID: c.ID, Labels: c.Labels, At: at})
			}
			s.send(ctx, ports.Event{Type: ports.EventExited, ContainerID: c.ID, Labels: c.Labels, ExitCode: c.ExitCode, At: at})
		}
	}
	for id := range s.running {
		if !seen[id] {
			if report {
				s.send(ctx, ports.Event{Type: ports.EventRemoved, ContainerID: id, Labels: s.labels[id], At: now})
			}
			delete(s.running, id)
			delete(s.labels, id)
		}
	}
	return nil
}

// handle maps one containerd event onto a port event of a managed
// container.
func (s *eventStream) handle(ctx context.Context, env *events.Envelope) {
	if env == nil || env.Namespace != s.d.cfg.Namespace || env.Event == nil {
		return
	}
	v, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		return
	}
	at := env.Timestamp
	switch e := v.(type) {
	case *apievents.TaskStart:
		labels, ok := s.lookup(ctx, e.ContainerID, true)
		if !ok {
			return
		}
		s.running[e.ContainerID] = true
		s.send(ctx, ports.Event{Type: ports.EventStarted, ContainerID: e.ContainerID, Labels: labels, At: at})
	case *apievents.TaskExit:
		if e.ID != e.ContainerID {
			return // an exec'd process, not the engine
		}
		labels, ok := s.lookup(ctx, e.ContainerID, false)
		if !ok {
			return
		}
		if running, known := s.running[e.ContainerID]; known && !running {
			return // already reported after a re-subscription
		}
		s.running[e.ContainerID] = false
		if e.ExitedAt != nil {
			at = e.ExitedAt.AsTime()
		}
		s.send(ctx, ports.Event{Type: ports.EventExited, ContainerID: e.ContainerID, Labels: labels, ExitCode: int(e.ExitStatus), At: at})
	case *apievents.TaskOOM:
		labels, ok := s.lookup(ctx, e.ContainerID, false)
		if !ok {
			return
		}
		s.markOOM(ctx, e.ContainerID)
		s.send(ctx, ports.Event{Type: ports.EventOOM, ContainerID: e.ContainerID, Labels: labels, At: at})
	case *apievents.ContainerDelete:
		// A container deleted before its labels were learnt (created and
		// removed between two events) is reported without labels: the
		// namespace belongs to rtmanager.
		labels := s.labels[e.ID]
		if labels != nil && labels[ports.LabelManaged] != "true" {
			return
		}
		delete(s.labels, e.ID)
		delete(s.running, e.ID)
		s.send(ctx, ports.Event{Type: ports.EventRemoved, ContainerID: e.ID, Labels: labels, At: at})
	}
}

// lookup returns the labels of container id and whether it is managed,
// from the cache unless refresh is set or it is not cached.
func (s *eventStream) lookup(ctx context.Context, id string, refresh bool) (map[string]string, bool) {
	labels, cached := s.labels[id]
	if !cached || refresh {
		ctr, err := s.d.client.LoadContainer(ctx, id)
		if err == nil {
			if l, err := ctr.Labels(ctx); err == nil {
				labels, cached = l, true
			}
		}
	}
	if !cached {
		return nil, false
	}
	s.labels[id] = labels
	return labels, labels[ports.LabelManaged] == "true"
}

// markOOM records the OOM kill in a label so Inspect reports OOMKilled
// even where the driver cannot read the container's cgroup. It is best
// effort: the container may already be gone.
func (s *eventStream) markOOM(ctx context.Context, id string) {
	ctr, err := s.d.client.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	_, _ = ctr.SetLabels(ctx, map[string]string{LabelOOMKilled: "true"})
}

func (s *eventStream) send(ctx context.Context, ev ports.Event) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	select {
	case s.out <- ev:
	case <-ctx.Done():
	}
}
