package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/galaxy-game/rtmanager/ports"
)

// Version is the plugin's version, reported in Capabilities.
var Version = "dev"

// Driver runs each game container as one Pod. It keeps no state of its
// own: every answer comes from the API server, so several instances (and a
// restarted plugin) see the same pods.
type Driver struct {
	cfg  Config
	cs   kubernetes.Interface
	host string // the API server's URL, for the fingerprint fallback
	log  *slog.Logger

	mu          sync.Mutex
	fingerprint string // cached once known
}

var _ ports.RuntimeDriver = (*Driver)(nil)

// New validates cfg and returns a driver for its cluster. It does not
// contact the cluster: Capabilities does.
func New(cfg Config) (*Driver, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rc, err := cfg.restConfig()
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "rtmanager-plugin-kubernetes/" + Version
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg, cs: cs, host: rc.Host, log: log}, nil
}

// Capabilities implements ports.RuntimeDriver. The fingerprint is the
// cluster's identity (the uid of its kube-system namespace, else the API
// server URL) plus the namespace.
func (d *Driver) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	v, err := d.cs.Discovery().ServerVersion()
	if err != nil {
		return ports.Capabilities{}, translate("capabilities", err)
	}
	return ports.Capabilities{
		Name: "kubernetes", Version: v.GitVersion + " (plugin " + Version + ")",
		Fingerprint:    d.clusterID(ctx) + "/" + d.cfg.Namespace,
		PublishesPorts: true, OOMEvents: true, RemoteEndpoints: true, Logs: true, LogTimes: true, Stats: true,
	}, nil
}

func (d *Driver) clusterID(ctx context.Context) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fingerprint != "" {
		return d.fingerprint
	}
	ns, err := d.cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
	if err == nil {
		d.fingerprint = "kube-system:" + string(ns.UID)
		return d.fingerprint
	}
	// No right to read namespaces: the API server URL names the cluster.
	sum := sha256.Sum256([]byte(d.host))
	return "apiserver:" + hex.EncodeToString(sum[:8])
}

// PrepareImage implements ports.RuntimeDriver. Images are pulled by the
// kubelet of whichever node runs the pod, so there is nothing to pull
// here. With --image-pull-policy=Never the image must already be on a node
// (node status lists it); otherwise Start reports pull failures.
func (d *Driver) PrepareImage(ctx context.Context, image string) error {
	if image == "" {
		return fmt.Errorf("kubernetes: prepare image: %w: empty image", ports.ErrInvalid)
	}
	if d.cfg.PullPolicy != corev1.PullNever {
		return nil
	}
	want := NormalizeImage(image)
	opts := metav1.ListOptions{}
	if len(d.cfg.NodeSelector) > 0 {
		var sel []string
		for k, v := range d.cfg.NodeSelector {
			sel = append(sel, k+"="+v)
		}
		opts.LabelSelector = strings.Join(sel, ",")
	}
	nodes, err := d.cs.CoreV1().Nodes().List(ctx, opts)
	if err != nil {
		return translate("prepare image "+image, err)
	}
	for _, n := range nodes.Items {
		for _, img := range n.Status.Images {
			for _, name := range img.Names {
				if name == want || name == image {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("kubernetes: prepare image %s: %w: not on any node and the pull policy is Never", image, ports.ErrImageUnavailable)
}

// Inspect implements ports.RuntimeDriver; the id is the pod name.
func (d *Driver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	pod, err := d.get(ctx, id)
	if err != nil {
		return ports.Container{}, translate("inspect "+id, err)
	}
	return d.containerOf(pod), nil
}

// List implements ports.RuntimeDriver with a label selector (narrowed
// further on the labels kept in annotations).
func (d *Driver) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	pods, err := d.cs.CoreV1().Pods(d.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(labels)})
	if err != nil {
		return nil, translate("list", err)
	}
	out := make([]ports.Container, 0, len(pods.Items))
	for i := range pods.Items {
		c := d.containerOf(&pods.Items[i])
		if hasLabels(c.Labels, labels) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (d *Driver) get(ctx context.Context, id string) (*corev1.Pod, error) {
	if id == "" || len(id) > maxPodName {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), id)
	}
	pod, err := d.cs.CoreV1().Pods(d.cfg.Namespace).Get(ctx, id, metav1.GetOptions{})
	if err == nil && pod.Labels[LabelManagedBy] != managedBy {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), id)
	}
	return pod, err
}

// Stop implements ports.RuntimeDriver: it adds the driver's finalizer and
// deletes the pod with a grace period of timeout, so the kubelet sends
// SIGTERM and SIGKILLs after the grace; the finalizer keeps the pod
// (terminated, with its exit code) until Remove. Pods carry no finalizer
// before Stop, so a drain or a delete by someone else removes them.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	pod, err := d.get(ctx, id)
	if err != nil {
		return translate("stop "+id, err)
	}
	if exited(pod) {
		return nil
	}
	grace := int64(math.Ceil(timeout.Seconds()))
	if grace < 1 {
		grace = 1 // 0 would delete the pod object at once
	}
	if err := d.setFinalizer(ctx, id, true); err != nil {
		return translate("stop "+id, err)
	}
	if err := d.delete(ctx, pod, grace); err != nil {
		return translate("stop "+id, err)
	}
	_, err = d.waitPod(ctx, id, func(p *corev1.Pod) (bool, error) {
		if p == nil {
			return true, nil // removed meanwhile: nothing left to stop
		}
		return exited(p), nil
	})
	return translate("stop "+id, err)
}

// Remove implements ports.RuntimeDriver: it kills a started engine (a
// one-second grace), waits for the kubelet to report it ended (bounded, for
// a dead node), drops the finalizer, deletes the pod at once and waits for
// it to be gone.
func (d *Driver) Remove(ctx context.Context, id string) error {
	err := d.remove(ctx, id)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return translate("remove "+id, err)
}

// killWait bounds how long Remove waits for the kubelet to confirm a kill
// before it lets the pod object go anyway (the node may be dead).
const killWait = 15 * time.Second

func (d *Driver) remove(ctx context.Context, id string) error {
	pod, err := d.get(ctx, id)
	if err != nil {
		return err
	}
	if !exited(pod) && pod.Spec.NodeName != "" && everRan(pod) {
		if err := d.delete(ctx, pod, 1); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, killWait)
		_, err := d.waitPod(wctx, id, func(p *corev1.Pod) (bool, error) { return p == nil || exited(p), nil })
		cancel()
		if err != nil && ctx.Err() != nil {
			return err
		}
	}
	if err := d.setFinalizer(ctx, id, false); err != nil {
		return err
	}
	if err := d.delete(ctx, pod, 0); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	_, err = d.waitPod(ctx, id, func(p *corev1.Pod) (bool, error) { return p == nil, nil })
	return err
}

// everRan reports whether pod's engine container has been started, so a
// kubelet has something to kill.
func everRan(pod *corev1.Pod) bool {
	st := engineStatus(pod)
	return st != nil && (st.State.Running != nil || st.State.Terminated != nil || st.ContainerID != "")
}

// delete deletes pod (by uid) with grace seconds.
func (d *Driver) delete(ctx context.Context, pod *corev1.Pod, grace int64) error {
	uid := pod.UID
	return d.cs.CoreV1().Pods(d.cfg.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &uid},
	})
}

// setFinalizer adds (on) or removes the driver's finalizer on pod id.
func (d *Driver) setFinalizer(ctx context.Context, id string, on bool) error {
	for {
		pod, err := d.get(ctx, id)
		if err != nil {
			return err
		}
		var want []string
		for _, f := range pod.Finalizers {
			if f != Finalizer {
				want = append(want, f)
			}
		}
		if on {
			want = append(want, Finalizer)
		}
		if len(want) == len(pod.Finalizers) && (on == slices.Contains(pod.Finalizers, Finalizer)) {
			return nil
		}
		patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"finalizers":%s}}`, pod.ResourceVersion, jsonList(want))
		_, err = d.cs.CoreV1().Pods(d.cfg.Namespace).Patch(ctx, id, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}

func jsonList(s []string) string {
	if len(s) == 0 {
		return "null"
	}
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// translate maps a client-go error to the port's sentinels.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, ports.ErrNotFound), errors.Is(err, ports.ErrUnavailable), errors.Is(err, ports.ErrInvalid),
		errors.Is(err, ports.ErrConflict), errors.Is(err, ports.ErrImageUnavailable):
		return fmt.Errorf("kubernetes: %s: %w", op, err)
	case apierrors.IsNotFound(err):
		sentinel = ports.ErrNotFound
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
		sentinel = ports.ErrConflict
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		sentinel = ports.ErrInvalid
	case apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err),
		errors.As(err, &ne), errors.As(err, &ue), errors.Is(err, context.DeadlineExceeded):
		sentinel = ports.ErrUnavailable
	default:
		return fmt.Errorf("kubernetes: %s: %w", op, err)
	}
	return fmt.Errorf("kubernetes: %s: %w: %w", op, sentinel, err)
}

// randomPort picks a port in lo..hi not in used, or 0.
func randomPort(lo, hi int, used map[int]bool) int {
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		p := lo + (start+i)%n
		if !used[p] {
			return p
		}
	}
	return 0
}
