package kubernetes

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/galaxy-game/rtmanager/ports"
)

// Start implements ports.RuntimeDriver. The pod is named PodName(spec.Name):
// a running pod of that name of the same owner (ports.CheckOwner: scope,
// game, generation, image) is returned as is, an ended one is replaced,
// and one of another container or owner is ErrConflict and left alone. Start returns once the engine container runs; when the
// kubelet cannot get the image (ErrImageUnavailable) or run the container,
// or ctx ends first, it deletes the pod.
func (d *Driver) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	c, err := d.start(ctx, spec)
	if err != nil {
		return ports.Container{}, translate("start "+spec.Name, err)
	}
	return c, nil
}

func (d *Driver) start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	if spec.Name == "" || spec.Image == "" || spec.Port <= 0 || spec.Port > 65535 {
		return ports.Container{}, fmt.Errorf("%w: spec needs a name, an image and a port in 1..65535", ports.ErrInvalid)
	}
	name := PodName(spec.Name)
	for attempt := 0; ; attempt++ {
		existing, err := d.cs.CoreV1().Pods(d.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			if existing.Labels[LabelManagedBy] != managedBy || existing.Annotations[AnnotationName] != spec.Name {
				return ports.Container{}, fmt.Errorf("%w: pod %s belongs to another container", ports.ErrConflict, name)
			}
			got := d.containerOf(existing)
			if err := ports.CheckOwner(spec, got.Labels); err != nil {
				return ports.Container{}, err
			}
			if got.State == ports.StateRunning && existing.DeletionTimestamp == nil && got.Endpoint != "" {
				return got, nil
			}
			if err := d.remove(ctx, name); err != nil && !apierrors.IsNotFound(err) {
				return ports.Container{}, err
			}
		case !apierrors.IsNotFound(err):
			return ports.Container{}, err
		}
		pod, err := d.newPod(ctx, spec)
		if err != nil {
			return ports.Container{}, err
		}
		created, err := d.cs.CoreV1().Pods(d.cfg.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) && attempt < 2 {
			continue // created concurrently: look again
		}
		if err != nil {
			return ports.Container{}, err
		}
		return d.awaitRunning(ctx, created)
	}
}

// newPod builds the pod of spec, with a free host port in host-port mode.
func (d *Driver) newPod(ctx context.Context, spec ports.ContainerSpec) (*corev1.Pod, error) {
	hostPort := 0
	if d.cfg.Endpoint == EndpointHostPort {
		pods, err := d.cs.CoreV1().Pods(d.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + managedBy})
		if err != nil {
			return nil, err
		}
		used := map[int]bool{}
		for _, p := range pods.Items {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					used[int(cp.HostPort)] = true
				}
			}
		}
		if hostPort = randomPort(d.cfg.HostPortMin, d.cfg.HostPortMax, used); hostPort == 0 {
			return nil, fmt.Errorf("%w: every host port in %d-%d is taken", ports.ErrUnavailable, d.cfg.HostPortMin, d.cfg.HostPortMax)
		}
	}
	return d.podFor(spec, hostPort)
}

// errStartFailed marks a pod that will not run; awaitRunning deletes it.
var errStartFailed = errors.New("pod will not run")

// awaitRunning waits until pod's engine runs with an endpoint. On failure
// it removes the pod.
func (d *Driver) awaitRunning(ctx context.Context, pod *corev1.Pod) (ports.Container, error) {
	var reason error
	got, err := d.waitPod(ctx, pod.Name, func(p *corev1.Pod) (bool, error) {
		switch {
		case p == nil || p.UID != pod.UID:
			return false, fmt.Errorf("%w: pod %s was deleted while starting", errStartFailed, pod.Name)
		case imageFailure(p) != "":
			reason = fmt.Errorf("%w: %s", ports.ErrImageUnavailable, imageFailure(p))
			return false, reason
		case startFailure(p) != "":
			return false, fmt.Errorf("%w: %s", errStartFailed, startFailure(p))
		}
		c := d.containerOf(p)
		if c.State == ports.StateExited {
			// It ran and already ended: Start still hands back what ran,
			// the exit arrives as an event.
			return true, nil
		}
		return c.State == ports.StateRunning && c.Endpoint != "", nil
	})
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killWait+killWait)
		defer cancel()
		if rerr := d.remove(cctx, pod.Name); rerr != nil && !apierrors.IsNotFound(rerr) {
			d.log.Warn("remove pod after a failed start", "pod", pod.Name, "error", rerr)
		}
		if ctx.Err() != nil {
			return ports.Container{}, fmt.Errorf("pod %s did not run in time (%s): %w", pod.Name, describe(got), ctx.Err())
		}
		return ports.Container{}, err
	}
	c := d.containerOf(got)
	if c.State == ports.StateExited {
		c.State, c.Endpoint = ports.StateRunning, ""
	}
	return c, nil
}

// describe says why a pod is not running yet.
func describe(p *corev1.Pod) string {
	if p == nil {
		return "no pod"
	}
	for _, cond := range p.Status.Conditions {
		if cond.Status != corev1.ConditionTrue && cond.Message != "" {
			return fmt.Sprintf("%s: %s", cond.Reason, cond.Message)
		}
	}
	if st := engineStatus(p); st != nil && st.State.Waiting != nil {
		return st.State.Waiting.Reason
	}
	return string(p.Status.Phase)
}

// waitPod watches pod name until done reports true (or an error) for its
// latest state; done sees nil once the pod is gone. It returns the last
// state seen. The watch is re-established when the API server ends it.
func (d *Driver) waitPod(ctx context.Context, name string, done func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	pods := d.cs.CoreV1().Pods(d.cfg.Namespace)
	var last *corev1.Pod
	for {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			return last, err
		}
		var cur *corev1.Pod
		if len(list.Items) == 1 {
			cur = &list.Items[0]
			last = cur
		}
		if ok, err := done(cur); ok || err != nil {
			return last, err
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true,
		})
		if err != nil {
			return last, err
		}
		ok, err := d.drain(ctx, w, &last, done)
		w.Stop()
		if ok || err != nil {
			return last, err
		}
		if ctx.Err() != nil {
			return last, ctx.Err()
		}
	}
}

// drain consumes w until done, an error, or the watch ends (false, nil).
func (d *Driver) drain(ctx context.Context, w watch.Interface, last **corev1.Pod, done func(*corev1.Pod) (bool, error)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, open := <-w.ResultChan():
			if !open {
				return false, nil
			}
			var cur *corev1.Pod
			switch ev.Type {
			case watch.Added, watch.Modified:
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				cur, *last = p, p
			case watch.Deleted:
			default:
				if ev.Type == watch.Error {
					return false, nil // e.g. 410 Gone: list again
				}
				continue
			}
			if ok, err := done(cur); ok || err != nil {
				return ok, err
			}
		}
	}
}
