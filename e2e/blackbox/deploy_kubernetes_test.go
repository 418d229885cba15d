//go:build e2e

package blackbox

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// deployOverlay is the committed overlay of deploy/kubernetes with what the
// test cluster forces (its kustomization.yaml says what and why).
const deployOverlay = "e2e/blackbox/testdata/kubernetes-deploy"

// TestKubernetesDeployManifests runs rtmanager itself in the cluster of
// scripts/kube.sh from the manifests of deploy/kubernetes: it builds the
// image with scripts/image.sh (rtmanager plus the shipped plugins), loads it
// and the test engine into the nodes, applies the manifests through the
// test overlay and a layer with this run's values (namespaces of its own,
// ports, image, token, a scratch PostgreSQL database and the test Redis, as
// the Secret carries them for a deployer), and waits for the Deployment.
// Then, through the REST API of the rtmanager running in the pod, it starts
// a game — a pod the plugin creates with the ServiceAccount's Role —, sees
// the pod run and the engine answer, stops it and removes it (dropping the
// finalizer needs the Role's patch), and deletes both namespaces. Broken
// manifests (plugin path, RBAC, environment, probes) fail it.
func TestKubernetesDeployManifests(t *testing.T) {
	kc := os.Getenv("RTMANAGER_TEST_KUBECONFIG")
	if kc == "" {
		t.Skip("no cluster: run eval \"$(scripts/kube.sh up)\" (scripts/test.sh runs this test on its cluster)")
	}
	root := moduleRoot(t)
	suffix := testenv.RandomSuffix(4)
	ns, games := "rtm-dep-"+suffix, "rtm-dep-"+suffix+"-games"
	engine := testenv.EngineImage(t)
	token := testenv.RandomSuffix(16)
	addr := harness.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)

	began := time.Now()
	ref := lastLine(runScript(t, root, 20*time.Minute, []string{"IMAGE=rtmanager-test-k8sdeploy:" + suffix}, "scripts/image.sh"))
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", ref).Run() })
	runScript(t, root, 10*time.Minute, nil, "scripts/kube.sh", "load-image", ref, testenv.EngineTarball(t))
	t.Cleanup(func() { _ = exec.Command(filepath.Join(root, "scripts", "kube.sh"), "unload-image", ref).Run() })
	t.Logf("image %s built and loaded into the nodes in %s", ref, time.Since(began).Round(100*time.Millisecond))

	dir := t.TempDir()
	base, err := filepath.Rel(dir, filepath.Join(root, deployOverlay))
	if err != nil {
		t.Fatal(err)
	}
	name, tag, _ := strings.Cut(ref, ":")
	values := map[string]string{
		"BASE": base, "IMAGE": name, "TAG": tag, "NS": ns, "GAMES": games,
		"ADDR": addr, "PORT": port, "APISERVER_PORT": apiserverPort(t, kc),
		"SCOPE": "dep" + suffix, "ENGINE": engine, "TOKEN": token,
		"DATABASE_URL": testenv.PostgresURL(t), "REDIS_URL": redisURL(t),
	}
	kust := runLayer
	for k, v := range values {
		kust = strings.ReplaceAll(kust, "${"+k+"}", v)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { deleteDeployNamespaces(t, kc, ns, games) })
	applied := time.Now()
	kubectl(t, kc, "apply", "-k", dir)
	waitRollout(t, kc, ns)
	ready := time.Since(applied)
	t.Logf("FIGURE kubernetes deploy: Deployment ready %s after kubectl apply -k", ready.Round(100*time.Millisecond))

	// The ServiceAccount may touch pods of the games namespace only.
	sa := "--as=system:serviceaccount:" + ns + ":rtmanager"
	for _, c := range []struct {
		verb, resource, ns, want string
	}{
		{"create", "pods", games, "yes"}, {"patch", "pods", games, "yes"}, {"get", "pods/log", games, "yes"},
		{"create", "pods", ns, "no"}, {"get", "secrets", games, "no"}, {"list", "nodes", "", "no"},
	} {
		args := []string{"auth", "can-i", sa, c.verb, c.resource}
		if c.ns != "" {
			args = append(args, "-n", c.ns)
		}
		// can-i exits 1 when the answer is no: read the answer, not the status.
		out, _ := exec.Command("kubectl", append([]string{"--kubeconfig", kc}, args...)...).Output()
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("ServiceAccount can-i %s %s in %q = %q, want %s", c.verb, c.resource, c.ns, got, c.want)
		}
	}

	inst := harness.Attach(t, addr, token)
	if st, _ := harness.Attach(t, addr, "").Get("/api/v1/internal/runtimes"); st != http.StatusUnauthorized {
		t.Errorf("REST without the Secret's token = %d, want 401", st)
	}
	g := harness.GameID("k8s-dep")
	startAt := time.Now()
	rt := mustOp(t, inst, g, "start", startBody(engine, nil))
	t.Logf("FIGURE kubernetes deploy: game start through the in-cluster rtmanager %s (REST request, pod running, engine healthy)",
		time.Since(startAt).Round(time.Millisecond))
	if rt.Status != "running" || rt.ContainerID == "" || rt.Endpoint == "" {
		t.Fatalf("start answered %+v", rt)
	}
	if got := mustRuntime(t, inst, g); got.Status != "running" || got.ContainerID != rt.ContainerID {
		t.Fatalf("GET runtime %+v, want running on %s", got, rt.ContainerID)
	}
	checkEngine(t, rt)
	checkPods(t, kc, games, g, rt)

	stopped := mustOp(t, inst, g, "stop", stopBody)
	if stopped.Status != "stopped" || stopped.ContainerID != rt.ContainerID {
		t.Fatalf("stop answered %+v", stopped)
	}
	checkPods(t, kc, games, g, stopped)
	removed := mustOp(t, inst, g, "cleanup", nil)
	if removed.Status != "removed" || removed.ContainerID != "" {
		t.Fatalf("cleanup answered %+v", removed)
	}
	checkPods(t, kc, games, g, removed)

	logs := kubectlOut(t, kc, "-n", ns, "logs", "deployment/rtmanager")
	if !strings.Contains(logs, `"rtmanager serving"`) || strings.Contains(logs, "open to other users") {
		t.Errorf("rtmanager log: want it serving on a private data dir (RTMANAGER_DATA_DIR under the emptyDir):\n%s", logs)
	}
}

// runLayer is this run's layer over deployOverlay: its own namespaces
// (renamed last, so every object of the base follows), the image built
// for it, free ports, the token, a scratch database, and an image allow
// list naming the test engine. JSON patches with "test" ops fail loudly
// when the base's layout moves.
const runLayer = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${BASE}
images:
  - name: rtmanager
    newName: ${IMAGE}
    newTag: "${TAG}"
patches:
  - target: {kind: ConfigMap, name: rtmanager-config}
    patch: |-
      - {op: replace, path: /data/RTMANAGER_HTTP_ADDR, value: "${ADDR}"}
      - {op: replace, path: /data/RTMANAGER_PLUGIN_ARGS, value: "--namespace=${GAMES}"}
      - {op: replace, path: /data/RTMANAGER_SCOPE, value: "${SCOPE}"}
      - {op: replace, path: /data/RTMANAGER_IMAGE_ALLOW, value: "${ENGINE}"}
      - {op: replace, path: /data/RTMANAGER_ALLOWED_HOSTS, value: "rtmanager.${NS}.svc"}
      - {op: add, path: /data/RTMANAGER_STOP_TIMEOUT, value: "5s"}
  - target: {kind: Secret, name: rtmanager-secrets}
    patch: |-
      - {op: replace, path: /stringData/RTMANAGER_API_TOKEN, value: "${TOKEN}"}
      - {op: replace, path: /stringData/RTMANAGER_DATABASE_URL, value: "${DATABASE_URL}"}
      - {op: replace, path: /stringData/RTMANAGER_REDIS_URL, value: "${REDIS_URL}"}
  - target: {kind: Deployment, name: rtmanager}
    patch: |-
      - {op: replace, path: /spec/template/spec/containers/0/ports/0/containerPort, value: ${PORT}}
      - {op: test, path: /spec/template/spec/containers/0/env/2/name, value: KUBERNETES_SERVICE_PORT}
      - {op: replace, path: /spec/template/spec/containers/0/env/2/value, value: "${APISERVER_PORT}"}
  - target: {kind: RoleBinding, name: rtmanager-engines}
    patch: |-
      - {op: test, path: /subjects/0/namespace, value: rtmanager}
      - {op: replace, path: /subjects/0/namespace, value: ${NS}}
  - target: {namespace: rtmanager}
    patch: |-
      - {op: replace, path: /metadata/namespace, value: ${NS}}
  - target: {namespace: rtmanager-games}
    patch: |-
      - {op: replace, path: /metadata/namespace, value: ${GAMES}}
  - target: {kind: Namespace, name: rtmanager}
    patch: |-
      - {op: replace, path: /metadata/name, value: ${NS}}
  - target: {kind: Namespace, name: rtmanager-games}
    patch: |-
      - {op: replace, path: /metadata/name, value: ${GAMES}}
`

// apiserverPort returns the port of the API server the kubeconfig names.
func apiserverPort(t *testing.T, kc string) string {
	t.Helper()
	server := kubectlOut(t, kc, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	u, err := url.Parse(server)
	if err != nil || u.Port() == "" {
		t.Fatalf("kubeconfig %s names server %q: want https://host:port", kc, server)
	}
	return u.Port()
}

// waitRollout waits for the Deployment to be available, and on failure
// shows what its pods say.
func waitRollout(t *testing.T, kc, ns string) {
	t.Helper()
	out, err := exec.Command("kubectl", "--kubeconfig", kc, "-n", ns, "rollout", "status", "deployment/rtmanager", "--timeout=4m").CombinedOutput()
	if err == nil {
		return
	}
	t.Fatalf("Deployment not ready: %v\n%s\n%s\nlog:\n%s", err, out,
		kubectlOut(t, kc, "-n", ns, "describe", "pods"),
		kubectlOut(t, kc, "-n", ns, "logs", "deployment/rtmanager", "--tail=80"))
}

// deleteDeployNamespaces shows the rtmanager log when t failed, releases
// game pods kept by the plugin's finalizer, and deletes both namespaces,
// waiting until they are gone.
func deleteDeployNamespaces(t *testing.T, kc, ns, games string) {
	t.Helper()
	if t.Failed() {
		t.Logf("rtmanager log:\n%s", kubectlOut(t, kc, "-n", ns, "logs", "deployment/rtmanager", "--tail=100"))
	}
	for _, p := range strings.Fields(kubectlOut(t, kc, "-n", games, "get", "pods", "-o", "name")) {
		kubectlOut(t, kc, "-n", games, "patch", p, "--type", "merge", "-p", `{"metadata":{"finalizers":null}}`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kc, "delete", "namespace", ns, games,
		"--ignore-not-found", "--wait=true").CombinedOutput()
	if err != nil {
		t.Errorf("delete namespaces %s %s: %v\n%s", ns, games, err, out)
	}
}

// runScript runs a script of the repository with extra environment and
// returns its standard output, failing t when it fails.
func runScript(t *testing.T, root string, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, name), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
