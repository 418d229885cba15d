package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/plugins/sdk/sdktest"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestBenchmarkVsClientGo measures start→running and stop+remove of one
// game through the plugin host against the same pod created and deleted
// directly with client-go, alternating, in the same run. It runs only with
// RTMANAGER_TEST_KUBE_BENCH=N (N rounds) and logs the medians.
func TestBenchmarkVsClientGo(t *testing.T) {
	rounds := 0
	if _, err := fmt.Sscan(os.Getenv("RTMANAGER_TEST_KUBE_BENCH"), &rounds); err != nil || rounds <= 0 {
		t.Skip("set RTMANAGER_TEST_KUBE_BENCH=N to run N rounds")
	}
	c := useCluster(t)
	ns := c.namespace(t)
	bin := sdktest.BuildPlugin(t, "./cmd/rtmanager-plugin-kubernetes")
	h := sdktest.NewHost(t, pluginhost.Config{Path: bin, Args: c.args(ns), StateDir: t.TempDir()})
	c.waitImage(t, h)
	ctx := context.Background()
	var plugStart, plugStop, rawStart, rawStop []time.Duration
	for i := range rounds {
		spec := ports.ContainerSpec{Name: fmt.Sprintf("rtm-bench-%d", i), Image: c.image, Port: 8080,
			Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "bench"}}
		begin := time.Now()
		got, err := h.Start(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		plugStart = append(plugStart, time.Since(begin))
		begin = time.Now()
		if err := h.Stop(ctx, got.ID, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := h.Remove(ctx, got.ID); err != nil {
			t.Fatal(err)
		}
		plugStop = append(plugStop, time.Since(begin))

		s, d := rawPod(t, c, ns, fmt.Sprintf("raw-bench-%d", i))
		rawStart, rawStop = append(rawStart, s), append(rawStop, d)
	}
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	t.Logf("rounds %d: start→running plugin %s vs client-go %s (%.2fx); stop+remove plugin %s vs client-go delete %s (%.2fx)",
		rounds, med(plugStart), med(rawStart), float64(med(plugStart))/float64(med(rawStart)),
		med(plugStop), med(rawStop), float64(med(plugStop))/float64(med(rawStop)))
}

// rawPod creates the engine pod with client-go, waits until its container
// runs, deletes it (grace 10s) and waits until it is gone.
func rawPod(t *testing.T, c *cluster, ns, name string) (start, stop time.Duration) {
	ctx := context.Background()
	pods := c.cs.CoreV1().Pods(ns)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "engine", Image: c.image, ImagePullPolicy: corev1.PullNever,
			Env: []corev1.EnvVar{{Name: "PORT", Value: "8080"}}}},
	}}
	begin := time.Now()
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitWatch(t, c, ns, name, created.ResourceVersion, func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil && p.Status.PodIP != ""
	})
	start = time.Since(begin)
	begin = time.Now()
	grace := int64(10)
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	return start, time.Since(begin)
}

func waitWatch(t *testing.T, c *cluster, ns, name, rv string, done func(*corev1.Pod) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := c.cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && done(p) {
			return
		}
	}
	t.Fatalf("pod %s never ready", name)
}

// TestBenchmarkList1000 measures what a reconcile pass asks the driver:
// List of the managed pods, over 1,000 pods, through the plugin host. The
// pods are real API objects pinned to a node that does not exist, so they
// stay Pending and cost the machine nothing but etcd space. Runs only with
// RTMANAGER_TEST_KUBE_BENCH set.
func TestBenchmarkList1000(t *testing.T) {
	if os.Getenv("RTMANAGER_TEST_KUBE_BENCH") == "" {
		t.Skip("set RTMANAGER_TEST_KUBE_BENCH=N to run")
	}
	c := useCluster(t)
	ns := c.namespace(t)
	ctx := context.Background()
	const n = 1000
	begin := time.Now()
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rtm-list-%d", i), Labels: map[string]string{
			"app.kubernetes.io/managed-by": "rtmanager", ports.LabelManaged: "true", ports.LabelGameID: fmt.Sprintf("list-%d", i)}},
			Spec: corev1.PodSpec{NodeSelector: map[string]string{"rtmanager.test/none": "none"},
				Containers: []corev1.Container{{Name: "engine", Image: c.image}}}}
		if _, err := c.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("created %d pods in %s", n, time.Since(begin))
	bin := sdktest.BuildPlugin(t, "./cmd/rtmanager-plugin-kubernetes")
	h := sdktest.NewHost(t, pluginhost.Config{Path: bin, Args: c.args(ns), StateDir: t.TempDir()})
	var took []time.Duration
	for range 5 {
		begin := time.Now()
		cs, err := h.List(ctx, map[string]string{ports.LabelManaged: "true"})
		if err != nil || len(cs) != n {
			t.Fatalf("List = %d containers, %v; want %d", len(cs), err, n)
		}
		took = append(took, time.Since(begin))
	}
	slices.Sort(took)
	t.Logf("List of %d pods through the plugin host: median %s (min %s, max %s)", n, took[2], took[0], took[4])
	grace := int64(0)
	_ = c.cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
}
