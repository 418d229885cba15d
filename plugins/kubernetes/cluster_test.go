package kubernetes_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	k8sdriver "github.com/galaxy-game/rtmanager/plugins/kubernetes"
	"github.com/galaxy-game/rtmanager/plugins/sdk/sdktest"
	"github.com/galaxy-game/rtmanager/ports"
)

// cluster is the real cluster of scripts/kube.sh up, shared by the tests.
type cluster struct {
	kubeconfig string
	script     string
	cs         kubernetes.Interface
	image      string
}

var (
	clusterOnce sync.Once
	theCluster  *cluster
	clusterErr  error
)

// useCluster returns the cluster of $RTMANAGER_TEST_KUBECONFIG (skipped
// when unset, failed in CI) with the test engine image loaded into it.
func useCluster(t *testing.T) *cluster {
	t.Helper()
	kc := testenv.Lookup(t, "RTMANAGER_TEST_KUBECONFIG")
	script := os.Getenv("RTMANAGER_TEST_KUBE_SCRIPT")
	if script == "" {
		script = filepath.Join("..", "..", "scripts", "kube.sh")
	}
	image := testenv.EngineImage(t)
	tarball := testenv.EngineTarball(t)
	clusterOnce.Do(func() {
		c := &cluster{kubeconfig: kc, script: script, image: image}
		rc, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			clusterErr = err
			return
		}
		if c.cs, err = kubernetes.NewForConfig(rc); err != nil {
			clusterErr = err
			return
		}
		if out, err := exec.Command(script, "load-image", tarball).CombinedOutput(); err != nil {
			clusterErr = errors.New("kube.sh load-image: " + err.Error() + ": " + string(out))
			return
		}
		theCluster = c
	})
	if clusterErr != nil {
		t.Fatalf("cluster: %v", clusterErr)
	}
	return theCluster
}

// namespace creates a namespace of its own for t and deletes it (and any
// pod the driver's finalizer still holds) when t ends.
func (c *cluster) namespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := "rtm-test-" + testenv.RandomSuffix(6)
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		pods, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				_, _ = c.cs.CoreV1().Pods(ns).Patch(ctx, p.Name, "application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			}
		}
		_ = c.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	// Pods need the namespace's default service account.
	waitFor(t, 60*time.Second, "service account "+ns+"/default", func() bool {
		_, err := c.cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	return ns
}

// args are the plugin flags for namespace ns.
func (c *cluster) args(ns string) []string {
	return []string{"--kubeconfig", c.kubeconfig, "--namespace", ns, "--image-pull-policy", "Never", "--stop-timeout", "10s"}
}

// driver returns an in-process driver on namespace ns.
func (c *cluster) driver(t *testing.T, ns string) *k8sdriver.Driver {
	t.Helper()
	cfg, err := k8sdriver.ParseFlags(c.args(ns))
	if err != nil {
		t.Fatal(err)
	}
	d, err := k8sdriver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitImage waits until the node reports the test engine image, which
// PrepareImage with pull policy Never checks.
func (c *cluster) waitImage(t *testing.T, d ports.RuntimeDriver) {
	t.Helper()
	waitFor(t, 90*time.Second, "the node to report "+c.image, func() bool {
		return d.PrepareImage(context.Background(), c.image) == nil
	})
}

func (c *cluster) harness(t *testing.T, newDriver func(t *testing.T) ports.RuntimeDriver) sdktest.Harness {
	return sdktest.Harness{
		New:          newDriver,
		Image:        c.image,
		MissingImage: "rtmanager-missing.invalid/engine:none",
		Port:         8080,
		RestartRuntime: func(t *testing.T) {
			if out, err := exec.Command(c.script, "restart-apiserver").CombinedOutput(); err != nil {
				t.Fatalf("kube.sh restart-apiserver: %v\n%s", err, out)
			}
		},
	}
}

// TestConformanceInProcess runs the driver conformance suite against the
// driver in this process and a real cluster.
func TestConformanceInProcess(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	newDriver := func(t *testing.T) ports.RuntimeDriver { return c.driver(t, ns) }
	c.waitImage(t, newDriver(t))
	sdktest.Conformance(t, c.harness(t, newDriver))
}

// TestConformanceThroughHost runs the suite across the real plugin boundary:
// the plugin binary under rtmanager's plugin host, against a real cluster.
func TestConformanceThroughHost(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	bin := sdktest.BuildPlugin(t, "./cmd/rtmanager-plugin-kubernetes")
	stateDir := t.TempDir()
	newDriver := func(t *testing.T) ports.RuntimeDriver {
		return sdktest.NewHost(t, pluginhost.Config{Path: bin, Args: c.args(ns), StateDir: stateDir})
	}
	d := newDriver(t)
	caps, err := d.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !caps.RemoteEndpoints || caps.Name != "kubernetes" || !strings.HasSuffix(caps.Fingerprint, "/"+ns) {
		t.Fatalf("capabilities through the host = %+v, want kubernetes with RemoteEndpoints and a fingerprint ending in /%s", caps, ns)
	}
	c.waitImage(t, d)
	sdktest.Conformance(t, c.harness(t, newDriver))
}

// TestPodShape checks what the cluster stores for one game: name, labels,
// annotations, hardening, limits, env and the finalizer that keeps a
// stopped pod until Remove.
func TestPodShape(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	d := c.driver(t, ns)
	c.waitImage(t, d)
	ctx := context.Background()
	name := "rtm-Game_Ω-7"
	spec := ports.ContainerSpec{
		Name: name, Image: c.image, Port: 8080,
		Env:    map[string]string{"GAME_ID": "Game_Ω", "JOB": "x"},
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "Game_Ω", ports.LabelGeneration: "7", ports.LabelImageRef: c.image},
		Limits: ports.Limits{MemoryBytes: 64 << 20, NanoCPUs: 500_000_000},
	}
	got, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(ctx, got.ID) })
	pod, err := c.cs.CoreV1().Pods(ns).Get(ctx, got.ID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != k8sdriver.PodName(name) || got.Name != name {
		t.Errorf("pod %q container name %q, want %q and %q", pod.Name, got.Name, k8sdriver.PodName(name), name)
	}
	if pod.Annotations[ports.LabelImageRef] != c.image || pod.Annotations[ports.LabelGameID] != "Game_Ω" {
		t.Errorf("annotations %v lack the values label syntax cannot hold", pod.Annotations)
	}
	if pod.Labels[ports.LabelGeneration] != "7" || pod.Labels[ports.LabelManaged] != "true" {
		t.Errorf("labels %v", pod.Labels)
	}
	s, ctr := pod.Spec, pod.Spec.Containers[0]
	if s.RestartPolicy != corev1.RestartPolicyNever || *s.AutomountServiceAccountToken || *s.EnableServiceLinks ||
		*s.TerminationGracePeriodSeconds != 10 || s.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod spec not hardened: %+v", s)
	}
	sc := ctr.SecurityContext
	if *sc.AllowPrivilegeEscalation || *sc.Privileged || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	if ctr.Resources.Limits.Memory().Value() != 64<<20 || ctr.Resources.Limits.Cpu().MilliValue() != 500 {
		t.Errorf("limits %v", ctr.Resources.Limits)
	}
	other := spec
	other.Labels = map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "another-game"}
	if _, err := d.Start(ctx, other); !errors.Is(err, ports.ErrConflict) {
		t.Errorf("Start of the same name with other labels = %v, want ErrConflict", err)
	}
	list, err := d.List(ctx, map[string]string{ports.LabelGameID: "Game_Ω"})
	if err != nil || len(list) != 1 || list[0].ID != got.ID {
		t.Errorf("List by a label value label syntax cannot hold = %v, %v", list, err)
	}
	if err := d.Stop(ctx, got.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pod, err = c.cs.CoreV1().Pods(ns).Get(ctx, got.ID, metav1.GetOptions{})
	if err != nil || pod.DeletionTimestamp == nil || len(pod.Finalizers) == 0 {
		t.Fatalf("after Stop: pod %v err %v, want it deleting and held by the finalizer", pod, err)
	}
	if err := d.Remove(ctx, got.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cs.CoreV1().Pods(ns).Get(ctx, got.ID, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Remove: get = %v, want NotFound", err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
}

// TestHostPortEndpoint: with --endpoint=host-port, engines answer on the
// node's IP at distinct host ports from the configured range.
func TestHostPortEndpoint(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	cfg, err := k8sdriver.ParseFlags(append(c.args(ns), "--endpoint", "host-port", "--host-ports", "17000-17010"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := k8sdriver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.waitImage(t, d)
	ctx := context.Background()
	seen := map[string]bool{}
	for i := range 2 {
		spec := ports.ContainerSpec{Name: "rtm-hp-" + strconv.Itoa(i), Image: c.image, Port: 8080,
			Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "hp"}}
		got, err := d.Start(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Remove(ctx, got.ID) })
		host, port, err := net.SplitHostPort(got.Endpoint)
		p, _ := strconv.Atoi(port)
		if err != nil || host != "127.0.0.1" || p < 17000 || p > 17010 || seen[port] {
			t.Fatalf("endpoint %q, want 127.0.0.1 and a fresh port in 17000-17010", got.Endpoint)
		}
		seen[port] = true
		waitFor(t, 30*time.Second, "the engine at "+got.Endpoint, func() bool {
			resp, err := http.Get("http://" + got.Endpoint + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
}

// TestDeletedByOthers: a pod deleted by someone else (a drain, an
// eviction, kubectl delete) is gone, not held: the driver reports it
// removed and Inspect finds nothing. Only Stop adds the finalizer.
func TestDeletedByOthers(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	d := c.driver(t, ns)
	c.waitImage(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	events, err := d.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Start(ctx, ports.ContainerSpec{Name: "rtm-evicted-1", Image: c.image, Port: 8080,
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "evicted"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(context.Background(), got.ID) })
	grace := int64(1)
	if err := c.cs.CoreV1().Pods(ns).Delete(ctx, got.ID, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	awaitRemoved(t, events, got.ID)
	if _, err := d.Inspect(ctx, got.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Inspect of a pod deleted by someone else = %v, want ErrNotFound", err)
	}
}

// awaitRemoved reads events until the removed event of id; the stream
// closing first (its context ended) fails t.
func awaitRemoved(t *testing.T, events <-chan ports.Event, id string) {
	t.Helper()
	for ev := range events {
		if ev.ContainerID == id && ev.Type == ports.EventRemoved {
			return
		}
	}
	t.Fatalf("no removed event for %s", id)
}
