package kubernetes_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/galaxy-game/rtmanager/ports"
)

// TestTwoNodes needs a cluster of two Ready nodes (scripts/kube.sh add-node
// 2): games spread over both, and a game whose node is drained (cordon +
// eviction, what kubectl drain does) vanishes and starts again on the
// other node.
func TestTwoNodes(t *testing.T) {
	c := useCluster(t)
	ctx := context.Background()
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ready []string
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && !n.Spec.Unschedulable {
				ready = append(ready, n.Name)
			}
		}
	}
	if len(ready) < 2 {
		t.Skipf("one schedulable node (%v): run scripts/kube.sh add-node 2", ready)
	}
	ns := c.namespace(t)
	d := c.driver(t, ns)
	c.waitImage(t, d)

	// Requests equal limits, so the scheduler's least-allocated scoring
	// spreads the games.
	spec := func(i, gen int) ports.ContainerSpec {
		return ports.ContainerSpec{Name: fmt.Sprintf("rtm-spread-%d-%d", i, gen), Image: c.image, Port: 8080,
			Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: fmt.Sprintf("spread-%d", i), ports.LabelGeneration: fmt.Sprint(gen)},
			Limits: ports.Limits{MemoryBytes: 64 << 20, NanoCPUs: 100_000_000}}
	}
	nodeOf := func(id string) string {
		p, err := c.cs.CoreV1().Pods(ns).Get(ctx, id, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Spec.NodeName
	}
	on := map[string][]string{}
	for i := range 6 {
		got, err := d.Start(ctx, spec(i, 1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Remove(context.Background(), got.ID) })
		waitHealthy(t, got.Endpoint)
		n := nodeOf(got.ID)
		on[n] = append(on[n], got.ID)
	}
	t.Logf("games per node: %v", on)
	if len(on) < 2 {
		t.Fatalf("all games on one node: %v", on)
	}

	// Drain the node of the first game: cordon it and evict its pods.
	victim := on[ready[1]][0]
	drained := ready[1]
	if _, err := c.cs.CoreV1().Nodes().Patch(ctx, drained, "application/merge-patch+json", []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.cs.CoreV1().Nodes().Patch(context.Background(), drained, "application/merge-patch+json", []byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{})
	})
	for _, id := range on[drained] {
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: ns}}
		if err := c.cs.CoreV1().Pods(ns).EvictV1(ctx, ev); err != nil {
			t.Fatalf("evict %s: %v", id, err)
		}
	}
	waitFor(t, 60*time.Second, "the evicted pod "+victim+" to be gone", func() bool {
		_, err := d.Inspect(ctx, victim)
		return err != nil
	})
	// rtmanager starts the game again (a new generation): it lands on the
	// other node.
	var i int
	fmt.Sscanf(victim, "rtm-spread-%d-1", &i)
	again, err := d.Start(ctx, spec(i, 2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(context.Background(), again.ID) })
	waitHealthy(t, again.Endpoint)
	if n := nodeOf(again.ID); n == drained || n == "" {
		t.Errorf("restarted game on node %q, want one other than the drained %s", n, drained)
	}
}

func waitHealthy(t *testing.T, endpoint string) {
	t.Helper()
	waitFor(t, 30*time.Second, "the engine at "+endpoint, func() bool {
		resp, err := http.Get("http://" + endpoint + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
