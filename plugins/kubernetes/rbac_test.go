package kubernetes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	k8sdriver "github.com/galaxy-game/rtmanager/plugins/kubernetes"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestLeastRBAC runs the driver as a service account holding only the Role
// of docs/kubernetes.md (pods create/get/list/watch/delete/patch and
// pods/log in one namespace) plus nodes list and nodes/proxy get: start,
// events, stats, logs, stop, inspect, list and remove all work, and another
// namespace is out of reach.
func TestLeastRBAC(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "rtmanager"}}
	if _, err := c.cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "rtmanager"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "delete", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}}
	if _, err := c.cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "rtmanager", Namespace: ns}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rtmanager"}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "rtmanager"}}
	if _, err := c.cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-nodes"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}},
		{APIGroups: []string{""}, Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}}}
	if _, err := c.cs.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-nodes"}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ns + "-nodes"}}
	if _, err := c.cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
		_ = c.cs.RbacV1().ClusterRoles().Delete(context.Background(), cr.Name, metav1.DeleteOptions{})
	})
	tok, err := c.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "rtmanager", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rest.Config{Host: admin.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}

	newDriver := func(ns string) *k8sdriver.Driver {
		d, err := k8sdriver.New(k8sdriver.Config{Namespace: ns, Rest: rc, PullPolicy: corev1.PullNever})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := newDriver(ns)
	if _, err := d.Capabilities(ctx); err != nil {
		t.Fatalf("Capabilities without namespace rights: %v", err)
	}
	c.waitImage(t, d)
	ectx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	events, err := d.Events(ectx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Start(ctx, ports.ContainerSpec{Name: "rtm-rbac-1", Image: c.image, Port: 8080,
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "rbac"}})
	if err != nil {
		t.Fatalf("Start as the least-privileged account: %v", err)
	}
	st := waitStats(t, d, got.ID)
	t.Logf("stats as the least-privileged account: cpu %v%% mem %d limit %v", deref(st.CPUPercent), *st.MemoryBytes, st.MemoryLimitBytes)
	var logs strings.Builder
	if err := d.Logs(ctx, got.ID, ports.LogOptions{Tail: ports.TailAll}, &logs); err != nil {
		t.Fatalf("Logs as the least-privileged account: %v", err)
	}
	if err := d.Stop(ctx, got.ID, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c, err := d.Inspect(ctx, got.ID); err != nil || c.State != ports.StateExited {
		t.Fatalf("Inspect after Stop = %+v, %v", c, err)
	}
	if cs, err := d.List(ctx, map[string]string{ports.LabelGameID: "rbac"}); err != nil || len(cs) != 1 {
		t.Fatalf("List = %v, %v", cs, err)
	}
	if err := d.Remove(ctx, got.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	awaitRemoved(t, events, got.ID)
	// Another namespace is out of reach.
	if _, err := newDriver("default").List(ctx, nil); err == nil || errors.Is(err, ports.ErrNotFound) {
		t.Errorf("List in another namespace = %v, want forbidden", err)
	}
}

// waitStats polls d's Stats of the running pod id until the kubelet has
// sampled it (memory shows), and fails t on an error or after a minute.
func waitStats(t *testing.T, d ports.StatsSource, id string) ports.Stats {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := d.Stats(context.Background(), id)
		if err != nil {
			t.Fatalf("Stats(%s): %v", id, err)
		}
		if st.MemoryBytes != nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats(%s) still has no memory figure after a minute: %+v", id, st)
		}
		time.Sleep(500 * time.Millisecond) // poll interval: the kubelet samples every few seconds
	}
}

// deref prints a nullable figure.
func deref[T any](p *T) any {
	if p == nil {
		return "null"
	}
	return *p
}
