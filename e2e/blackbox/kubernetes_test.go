//go:build e2e

package blackbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	kc, ns := kubeEnv(t, env)
	return harness.Start(t, harness.Options{Env: env}), kc, ns
}

// kubeEnv prepares what kubeInstance starts: it loads the test engine image,
// makes a namespace of its own (removed when t ends), builds the plugin and
// sets env to run it there; it returns the kubeconfig and the namespace.
func kubeEnv(t *testing.T, env map[string]string) (string, string) {
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
		// Retried: another test may be restarting the shared apiserver.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			out, err := exec.Command("kubectl", "--kubeconfig", kc, "delete", "namespace", ns, "--wait=false", "--ignore-not-found").CombinedOutput()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("delete namespace %s: %v\n%s", ns, err, out)
				return
			}
			time.Sleep(time.Second) // retry interval
		}
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
	return kc, ns
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

// kubePods returns the names of the game's pods in ns.
func kubePods(t *testing.T, kc, ns, game string) []string {
	t.Helper()
	return strings.Fields(kubectlOut(t, kc, "-n", ns, "get", "pods", "-l", "rtmanager.game_id="+game,
		"-o", "jsonpath={.items[*].metadata.name}"))
}

// checkPods checks the game's pods agree with its record: a running record
// has exactly its pod, running its image; a stopped one exactly its pod,
// terminated; a removed one none.
func checkPods(t *testing.T, kc, ns, game string, rt runtimeView) {
	t.Helper()
	harness.Eventually(t, eventWait, "the pods of "+game+" to match its "+rt.Status+" record", func() bool {
		pods := kubePods(t, kc, ns, game)
		if rt.Status == "removed" {
			return len(pods) == 0
		}
		if len(pods) != 1 || pods[0] != rt.ContainerID {
			return false
		}
		state := kubectlOut(t, kc, "-n", ns, "get", "pod", rt.ContainerID, "-o",
			`jsonpath={.spec.containers[0].image}|{.status.containerStatuses[0].state.running.startedAt}|{.status.containerStatuses[0].state.terminated.reason}`)
		f := strings.Split(state, "|")
		if len(f) != 3 || !strings.HasSuffix(f[0], rt.ImageRef) {
			return false
		}
		if rt.Status == "running" {
			return f[1] != "" && f[2] == ""
		}
		return f[2] != ""
	})
}

// TestKubernetesStreams runs a game on the cluster through its whole life:
// start and stop as jobs of the instance's Redis streams (exactly one result
// each), restart, patch onto a second tag of the engine image and cleanup
// through REST, checking the record and the pods after each step. It runs on
// the embedded stores (the jobs go to the embedded Redis port).
func TestKubernetesStreams(t *testing.T) {
	inst, kc, ns := kubeInstance(t, baseEnv())
	redis := dialRedis(t, inst.EmbeddedRedisURL())
	other := otherImage(t)
	if out, err := exec.Command(filepath.Join(moduleRoot(t), "scripts", "kube.sh"), "load-image", other).CombinedOutput(); err != nil {
		t.Fatalf("kube.sh load-image %s: %v\n%s", other, err, out)
	}
	// With --image-pull-policy Never the plugin looks for the image in the
	// nodes' status, which the kubelets refresh on their own period.
	harness.Eventually(t, 90*time.Second, "a node to list "+other, func() bool {
		return strings.Contains(kubectlOut(t, kc, "get", "nodes", "-o", "jsonpath={.items[*].status.images[*].names}"), "/"+other+`"`)
	})
	image, g := testenv.EngineImage(t), harness.GameID("k8s-st")

	id := redis.xadd(t, streamStart, "game_id", g, "image_ref", image, "env", `{"MODE":"ranked"}`)
	res := redis.awaitResult(t, streamStart, id)
	checkResult(t, res, streamStart, id, g, "start", "success", "")
	rt := mustRuntime(t, inst, g)
	if rt.Status != "running" || rt.Generation != 1 || rt.ContainerID != res["container_id"] || rt.Endpoint != res["endpoint"] {
		t.Fatalf("record after the start job %+v, result %v", rt, res)
	}
	checkEngine(t, rt)
	if st, body := engineGet(rt.Endpoint, "/env"); st != http.StatusOK || !strings.Contains(body, `"MODE":"ranked"`) {
		t.Errorf("engine env %d %s lacks the job's env MODE=ranked", st, body)
	}
	checkPods(t, kc, ns, g, rt)

	restarted := mustOp(t, inst, g, "restart", nil)
	if restarted.Status != "running" || restarted.Generation != 2 || restarted.ContainerID == rt.ContainerID || restarted.ImageRef != image {
		t.Fatalf("restarted %+v, want running generation 2 on a new pod of %s (was %s)", restarted, image, rt.ContainerID)
	}
	checkEngine(t, restarted)
	checkPods(t, kc, ns, g, restarted)

	patched := mustOp(t, inst, g, "patch", map[string]any{"image_ref": other})
	if patched.Status != "running" || patched.Generation != 3 || patched.ImageRef != other || patched.ContainerID == restarted.ContainerID {
		t.Fatalf("patched %+v, want running generation 3 on a new pod of %s", patched, other)
	}
	checkEngine(t, patched)
	checkPods(t, kc, ns, g, patched)

	id = redis.xadd(t, streamStop, "game_id", g, "reason", "game_finished")
	res = redis.awaitResult(t, streamStop, id)
	checkResult(t, res, streamStop, id, g, "stop", "success", "")
	stopped := mustRuntime(t, inst, g)
	if stopped.Status != "stopped" || stopped.ContainerID != patched.ContainerID || stopped.Endpoint != "" {
		t.Fatalf("record after the stop job %+v, want stopped on %s", stopped, patched.ContainerID)
	}
	checkPods(t, kc, ns, g, stopped)

	removed := mustOp(t, inst, g, "cleanup", nil)
	if removed.Status != "removed" || removed.ContainerID != "" {
		t.Fatalf("cleanup left %+v", removed)
	}
	checkPods(t, kc, ns, g, removed)

	var got []string
	for _, o := range operations(t, inst, g) {
		got = append(got, o.OpKind+"/"+o.OpSource)
	}
	// Newest first; restart and patch log their inner stop and start.
	want := "cleanup/rest stop/stream patch/rest start/rest stop/rest restart/rest start/rest stop/rest start/stream"
	if strings.Join(got, " ") != want {
		t.Errorf("operations %v, want %s", got, want)
	}
}

// TestKubernetesReconciler checks the reconciler on the cluster: a pod
// deleted behind rtmanager's back (forced, no grace) leaves its game's
// record removed with a container_disappeared event; and a pod with the
// instance's labels but no record — started by a first instance on another
// database, killed before the second one comes up in the same namespace and
// scope — is removed after RTMANAGER_ORPHAN_GRACE with orphan_removed.
// Both instances run on embedded stores of their own.
func TestKubernetesReconciler(t *testing.T) {
	env := baseEnv()
	kc, ns := kubeEnv(t, env)
	image := testenv.EngineImage(t)
	first := harness.Start(t, harness.Options{Env: maps.Clone(env)})
	orphan, vanished := harness.GameID("k8s-orph"), harness.GameID("k8s-van")
	orph := mustOp(t, first, orphan, "start", startBody(image, nil))
	first.Kill()
	checkPods(t, kc, ns, orphan, orph)

	env["RTMANAGER_DATA_DIR"] = t.TempDir()
	inst := harness.Start(t, harness.Options{Env: env})
	redis := dialRedis(t, inst.EmbeddedRedisURL())

	t.Run("orphan", func(t *testing.T) {
		t.Parallel()
		harness.Eventually(t, eventWait, "the orphan pod to be removed", func() bool { return len(kubePods(t, kc, ns, orphan)) == 0 })
		_, details := redis.awaitEvent(t, orphan, "orphan_removed", orph.ContainerID)
		t.Logf("orphan_removed details %v", details)
		if rt, ok := getRuntime(t, inst, orphan); ok {
			t.Errorf("removing an orphan made a record %+v", rt)
		}
		checkReconcilerEntry(t, inst, orphan, orph.ContainerID)
	})
	t.Run("vanished", func(t *testing.T) {
		t.Parallel()
		van := mustOp(t, inst, vanished, "start", startBody(image, nil))
		checkPods(t, kc, ns, vanished, van)
		kubectl(t, kc, "-n", ns, "delete", "pod", van.ContainerID, "--grace-period=0", "--force")
		rt := awaitStatus(t, inst, vanished, "removed", eventWait)
		if rt.ContainerID != "" || rt.Endpoint != "" {
			t.Errorf("removed record %+v keeps a container or endpoint", rt)
		}
		redis.awaitEvent(t, vanished, "container_disappeared", van.ContainerID)
		checkPods(t, kc, ns, vanished, rt)
		checkReconcilerEntry(t, inst, vanished, van.ContainerID)
	})
}

// TestKubernetesReconcile1000 measures one reconcile pass of rtmanager over
// 1,000 pods of its scope. The pods are made with kubectl, pinned to a node
// that does not exist (Pending: they cost etcd space only) and carry no
// record, so with a 1h orphan grace each pass lists and classifies all of
// them and repairs nothing. Passes are due every 100ms; the durations are
// read from the times of the "reconcile pass" log lines (see below).
// Runs only with RTMANAGER_TEST_KUBE_BENCH set.
func TestKubernetesReconcile1000(t *testing.T) {
	if os.Getenv("RTMANAGER_TEST_KUBE_BENCH") == "" {
		t.Skip("set RTMANAGER_TEST_KUBE_BENCH=1 to run (it creates 1,000 pods)")
	}
	const n = 1000
	env := baseEnv()
	env["RTMANAGER_ORPHAN_GRACE"] = "1h"
	env["RTMANAGER_RECONCILE_INTERVAL"] = "100ms"
	kc, ns := kubeEnv(t, env)
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rtm-bench-%d","labels":{
"app.kubernetes.io/managed-by":"rtmanager","rtmanager.managed":"true","rtmanager.scope":%q,"rtmanager.game_id":"bench-%d"}},
"spec":{"nodeSelector":{"rtmanager.test/none":"none"},"containers":[{"name":"engine","image":%q}]}}`, i, env["RTMANAGER_SCOPE"], i, testenv.EngineImage(t)))
	}
	list := filepath.Join(t.TempDir(), "pods.json")
	if err := os.WriteFile(list, []byte(`{"apiVersion":"v1","kind":"List","items":[`+strings.Join(items, ",")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kubectlOut(t, kc, "-n", ns, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=true")
	})
	begin := time.Now()
	kubectl(t, kc, "-n", ns, "create", "-f", list)
	t.Logf("created %d pods with kubectl in %s", n, time.Since(begin).Round(time.Second))

	inst := harness.Start(t, harness.Options{Env: env})
	full := fmt.Sprintf("Containers:%d ", n)
	var at []time.Time
	harness.Eventually(t, 2*time.Minute, "11 reconcile passes over the pods", func() bool {
		at = at[:0]
		for _, line := range strings.Split(inst.Logs(), "\n") {
			if !strings.Contains(line, `"reconcile pass"`) || !strings.Contains(line, full) {
				continue
			}
			var l struct {
				Time time.Time `json:"time"`
			}
			if json.Unmarshal([]byte(strings.TrimSpace(line)), &l) == nil {
				at = append(at, l.Time)
			}
		}
		return len(at) >= 11
	})
	// The first pass runs at start-up and the ticker starts as it ends
	// (its log line), so while passes are shorter than the interval, pass
	// k ends (k*100ms + its duration) after the first: the remainder is the
	// duration. Longer passes run back to back: the gap is the duration.
	const every = 100 * time.Millisecond
	var took, gaps []time.Duration
	for i := 1; i < 11; i++ {
		took = append(took, at[i].Sub(at[0])%every)
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	slices.Sort(took)
	slices.Sort(gaps)
	if gaps[5] > every+every/4 {
		took = gaps
	}
	t.Logf("FIGURE kubernetes reconcile pass over %d pods through rtmanager (plugin, embedded stores, 1,000 orphans in grace): median %s (min %s, max %s, 10 passes; gaps between passes median %s)",
		n, took[5].Round(time.Millisecond), took[0].Round(time.Millisecond), took[9].Round(time.Millisecond), gaps[5].Round(time.Millisecond))
}
