//go:build e2e

package blackbox

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestKubernetesPluginDriver runs the binary with the Kubernetes driver
// plugin against the real cluster of scripts/kube.sh (RTMANAGER_TEST_KUBECONFIG,
// set by `eval "$(scripts/kube.sh up)"`; scripts/test.sh runs this test after
// bringing the cluster up). The endpoint is a pod IP, not loopback: the
// prober must accept it because the driver declares RemoteEndpoints.
func TestKubernetesPluginDriver(t *testing.T) {
	inst, kc, ns := kubeInstance(t, baseEnv())

	g := harness.GameID("k8s")
	lifecycleThroughDriver(t, inst, g, testenv.EngineImage(t), true, func() []string {
		return strings.Fields(kubectlOut(t, kc, "-n", ns, "get", "pods", "-l", "rtmanager.game_id="+g,
			"-o", "jsonpath={.items[*].metadata.name}"))
	})
	if a := op(t, inst, harness.GameID("k8s-miss"), "start", startBody(missingImage, nil)); a.HTTP != http.StatusUnprocessableEntity || a.Error.Code != "image_unavailable" {
		t.Errorf("start of a missing image = %s, want 422 image_unavailable", a)
	}
}

// kubeInstance starts rtmanager with env and the Kubernetes plugin on a
// namespace of its own of the cluster at $RTMANAGER_TEST_KUBECONFIG, with the
// test engine image loaded; it returns the instance, the kubeconfig and the
// namespace. It skips the test when no cluster is configured.
func kubeInstance(t *testing.T, env map[string]string) (*harness.Instance, string, string) {
	t.Helper()
	kc := os.Getenv("RTMANAGER_TEST_KUBECONFIG")
	if kc == "" {
		t.Skip("no cluster: run eval \"$(scripts/kube.sh up)\" (scripts/test.sh runs this test on its cluster)")
	}
	root := moduleRoot(t)
	script := filepath.Join(root, "scripts", "kube.sh")
	if out, err := exec.Command(script, "load-image", testenv.EngineTarball(t)).CombinedOutput(); err != nil {
		t.Fatalf("kube.sh load-image: %v\n%s", err, out)
	}
	ns := "rtm-bb-" + testenv.RandomSuffix(4)
	kubectl(t, kc, "create", "namespace", ns)
	t.Cleanup(func() {
		for _, p := range strings.Fields(kubectlOut(t, kc, "-n", ns, "get", "pods", "-o", "name")) {
			kubectlOut(t, kc, "-n", ns, "patch", p, "--type", "merge", "-p", `{"metadata":{"finalizers":null}}`)
		}
		kubectlOut(t, kc, "delete", "namespace", ns, "--wait=false")
	})
	deadline := time.Now().Add(60 * time.Second)
	for kubectlOut(t, kc, "-n", ns, "get", "serviceaccount", "default", "-o", "name") == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no default service account in %s", ns)
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
	plugin := filepath.Join(t.TempDir(), "rtmanager-plugin-kubernetes")
	build := exec.Command("go", "build", "-o", plugin, "./cmd/rtmanager-plugin-kubernetes")
	build.Dir = filepath.Join(root, "plugins", "kubernetes")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the kubernetes plugin: %v\n%s", err, out)
	}

	env["RTMANAGER_DRIVER"] = "plugin"
	env["RTMANAGER_PLUGIN_PATH"] = plugin
	env["RTMANAGER_PLUGIN_ARGS"] = strings.Join([]string{"--kubeconfig", kc, "--namespace", ns, "--image-pull-policy", "Never", "--stop-timeout", "2s"}, ",")
	env["RTMANAGER_START_TIMEOUT"] = "60s"
	env["RTMANAGER_DATA_DIR"] = t.TempDir()
	inst := harness.Start(t, harness.Options{Env: env})

	return inst, kc, ns
}

func kubectl(t *testing.T, kubeconfig string, args ...string) {
	t.Helper()
	if out, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
}

func kubectlOut(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	out, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// TestKubernetesKill9 kills rtmanager (-9) while games run as pods, deletes
// one pod while it is dead, and checks that the restarted instance, with a
// new plugin process, finds the survivor running at the same endpoint and
// stops it, and records the deleted one as removed.
func TestKubernetesKill9(t *testing.T) {
	inst, kc, ns := kubeInstance(t, serverStores(t, baseEnv()))
	survivor, vanished := harness.GameID("k8s-live"), harness.GameID("k8s-van")
	live := mustOp(t, inst, survivor, "start", startBody(testenv.EngineImage(t), nil))
	van := mustOp(t, inst, vanished, "start", startBody(testenv.EngineImage(t), nil))

	inst.Kill()
	kubectl(t, kc, "-n", ns, "delete", "pod", van.ContainerID, "--grace-period=1")
	inst.Restart()

	rt := awaitStatus(t, inst, vanished, "removed", eventWait)
	if rt.ContainerID != "" {
		t.Errorf("vanished game's record %+v", rt)
	}
	if rt := mustRuntime(t, inst, survivor); rt.Status != "running" || rt.ContainerID != live.ContainerID || rt.Endpoint != live.Endpoint {
		t.Fatalf("survivor after the restart %+v, want running on %s at %s", rt, live.ContainerID, live.Endpoint)
	}
	checkEngine(t, live)
	if stopped := mustOp(t, inst, survivor, "stop", stopBody); stopped.Status != "stopped" {
		t.Fatalf("stop after the restart: %+v", stopped)
	}
	phase := kubectlOut(t, kc, "-n", ns, "get", "pod", live.ContainerID, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.reason}")
	if phase == "" {
		t.Errorf("the stopped pod %s is not kept terminated", live.ContainerID)
	}
}
