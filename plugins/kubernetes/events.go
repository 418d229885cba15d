package kubernetes

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/galaxy-game/rtmanager/ports"
)

// syncTimeout bounds the initial list of an Events subscription.
const syncTimeout = 30 * time.Second

// Events implements ports.RuntimeDriver with an informer on the driver's
// pods: its reflector lists, watches from the listed resource version,
// re-watches when the API server ends the watch or restarts, and lists
// again on 410 Gone, so transitions missed in between are still seen
// (as the difference between the cached and the listed pod). Pods that
// exist when the subscription starts produce no events.
func (d *Driver) Events(ctx context.Context) (<-chan ports.Event, error) {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = LabelManagedBy + "=" + managedBy
			return d.cs.CoreV1().Pods(d.cfg.Namespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = LabelManagedBy + "=" + managedBy
			return d.cs.CoreV1().Pods(d.cfg.Namespace).Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{ctx: ctx, ch: make(chan ports.Event, 64), d: d}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				s.transition(nil, obj)
			}
		},
		UpdateFunc: func(old, obj any) { s.transition(old, obj) },
		DeleteFunc: s.deleted,
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("kubernetes: events: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		inf.RunWithContext(ctx)
	}()
	sctx, scancel := context.WithTimeout(ctx, syncTimeout)
	defer scancel()
	if !cache.WaitForCacheSync(sctx.Done(), inf.HasSynced) {
		cancel()
		<-done
		return nil, fmt.Errorf("kubernetes: events: %w: pods not listed within %s", ports.ErrUnavailable, syncTimeout)
	}
	go func() {
		<-done
		cancel()
		s.close()
	}()
	return s.ch, nil
}

// stream turns informer callbacks into port events.
type stream struct {
	ctx    context.Context
	d      *Driver
	mu     sync.RWMutex
	closed bool
	ch     chan ports.Event
}

func (s *stream) send(ev ports.Event) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- ev:
	case <-s.ctx.Done():
	}
}

func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// transition sends the events between old (nil for a new pod) and obj.
func (s *stream) transition(old, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	var before ports.Container
	if op, ok := old.(*corev1.Pod); ok && op.UID == pod.UID {
		before = s.d.containerOf(op)
	}
	for _, ev := range transitions(before, s.d.containerOf(pod)) {
		s.send(ev)
	}
}

// transitions are the events that lead from before to after. A container
// seen ending without being seen running gets its started event first.
func transitions(before, after ports.Container) []ports.Event {
	var out []ports.Event
	ev := func(t ports.EventType, at time.Time) ports.Event {
		return ports.Event{Type: t, ContainerID: after.ID, Labels: after.Labels, ExitCode: after.ExitCode, At: at}
	}
	wasRunning := before.State == ports.StateRunning
	if after.State == ports.StateRunning && !wasRunning && before.State != ports.StateExited {
		out = append(out, ev(ports.EventStarted, after.StartedAt))
	}
	if after.State == ports.StateExited && before.State != ports.StateExited {
		if !wasRunning && !after.StartedAt.IsZero() {
			out = append(out, ev(ports.EventStarted, after.StartedAt))
		}
		at := after.FinishedAt
		if at.IsZero() {
			at = time.Now()
		}
		if after.OOMKilled {
			out = append(out, ev(ports.EventOOM, at))
		}
		out = append(out, ev(ports.EventExited, at))
	}
	for i := range out {
		if out[i].Type != ports.EventExited {
			out[i].ExitCode = 0
		}
		if out[i].At.IsZero() {
			out[i].At = time.Now()
		}
	}
	return out
}

// deleted sends the removed event of a pod that is gone.
func (s *stream) deleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c := s.d.containerOf(pod)
	s.send(ports.Event{Type: ports.EventRemoved, ContainerID: c.ID, Labels: c.Labels, At: time.Now()})
}
