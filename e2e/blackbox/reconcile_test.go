//go:build e2e

package blackbox

import (
	"net/http"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestReconciler changes the world while rtmanager is dead (kill -9) and
// checks that the restarted instance repairs it: a running game whose
// container vanished, one whose container exited, a labelled container no
// record accounts for, and a start cut off while it waited for a slow
// engine. It runs against PostgreSQL and the test redis-server.
//
// The hand-made orphan carries the instance's scope label; a twin of
// another scope must be left alone.
func TestReconciler(t *testing.T) {
	testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	env := serverStores(t, baseEnv())
	env["RTMANAGER_START_TIMEOUT"] = "30s"
	inst := harness.Start(t, harness.Options{Env: env})
	redis := dialRedis(t, env["RTMANAGER_REDIS_URL"])

	newGame := func(prefix string) string {
		g := harness.GameID(prefix)
		harness.RemoveDockerContainers(t, g)
		return g
	}
	vanished, exited, orphan, midStart := newGame("rc-van"), newGame("rc-exit"), newGame("rc-orph"), newGame("rc-mid")
	foreign := newGame("rc-forn")

	// Before the crash.
	van := mustOp(t, inst, vanished, "start", startBody(image, nil))
	exi := mustOp(t, inst, exited, "start", startBody(image, nil))
	startDone := make(chan int, 1)
	go func() {
		// Cut off by the kill below: no answer is expected.
		st, _ := inst.Op(midStart, "start", startBody(image, map[string]string{"ENGINE_START_DELAY": "5s"}))
		startDone <- st
	}()
	mid := harness.Await(t, 20*time.Second, "the slow start's container to run", func() (dockerCtr, bool) {
		cs := dockerPS(t, midStart)
		return firstOr(cs), len(cs) == 1 && cs[0].State == "running"
	})
	if rt := mustRuntime(t, inst, midStart); rt.Status != "starting" || rt.Generation != 1 {
		t.Fatalf("slow start's record %+v; want starting, generation 1", rt)
	}

	inst.Kill()
	if st := <-startDone; st == http.StatusOK {
		t.Fatalf("the slow start answered 200 although rtmanager was killed")
	}

	// While rtmanager is dead.
	docker(t, "rm", "-f", van.ContainerID)
	docker(t, "kill", exi.ContainerID)
	orphanID := docker(t, "run", "-d", "--name", "rtm-"+orphan+"-1",
		"--label", "rtmanager.managed=true", "--label", "rtmanager.game_id="+orphan,
		"--label", "rtmanager.generation=1", "--label", "rtmanager.image_ref="+image,
		"--label", "rtmanager.scope="+env["RTMANAGER_SCOPE"], image)
	if cs := dockerPS(t, orphan); len(cs) != 1 || cs[0].ID != orphanID {
		t.Fatalf("hand-made container: %+v, want %s", cs, orphanID)
	}
	// The same, but of another deployment scope: not this instance's.
	foreignID := docker(t, "run", "-d", "--name", "rtm-"+foreign+"-1",
		"--label", "rtmanager.managed=true", "--label", "rtmanager.game_id="+foreign,
		"--label", "rtmanager.generation=1", "--label", "rtmanager.image_ref="+image,
		"--label", "rtmanager.scope=bb-foreign-"+testenv.RandomSuffix(2), image)

	inst.Restart()

	t.Run("vanished", func(t *testing.T) {
		t.Parallel()
		rt := awaitStatus(t, inst, vanished, "removed", eventWait)
		checkDocker(t, vanished, rt)
		redis.awaitEvent(t, vanished, "container_disappeared", van.ContainerID)
		checkReconcilerEntry(t, inst, vanished, van.ContainerID)
	})
	t.Run("exited", func(t *testing.T) {
		t.Parallel()
		rt := awaitStatus(t, inst, exited, "stopped", eventWait)
		if rt.ContainerID != exi.ContainerID {
			t.Errorf("stopped record %+v, want container %s", rt, exi.ContainerID)
		}
		checkDocker(t, exited, rt)
		_, details := redis.awaitEvent(t, exited, "container_exited", exi.ContainerID)
		if code, ok := num(details, "exit_code"); !ok || code != 137 {
			t.Errorf("container_exited details %v, want exit_code 137 (docker kill)", details)
		}
		checkReconcilerEntry(t, inst, exited, exi.ContainerID)
	})
	t.Run("orphan", func(t *testing.T) {
		t.Parallel()
		harness.Eventually(t, eventWait, "the orphan to be removed", func() bool { return len(dockerPS(t, orphan)) == 0 })
		_, details := redis.awaitEvent(t, orphan, "orphan_removed", orphanID)
		t.Logf("orphan_removed details %v", details)
		if rt, ok := getRuntime(t, inst, orphan); ok {
			t.Errorf("removing an orphan made a record %+v", rt)
		}
		checkReconcilerEntry(t, inst, orphan, orphanID)
		// The orphan's removal shows its grace passed; the foreign-scope
		// container, as old, is left alone.
		if cs := dockerPS(t, foreign); len(cs) != 1 || cs[0].ID != foreignID || cs[0].State != "running" {
			t.Errorf("another scope's container: %+v, want %s left running", cs, foreignID)
		}
		if evs := redis.healthEvents(t, foreign); len(evs) != 0 {
			t.Errorf("events about another scope's container: %v", evs)
		}
	})
	t.Run("mid-start", func(t *testing.T) {
		t.Parallel()
		// The reconciler settles the record once the dead start's lease
		// expires: adopted onto that very container, or removed with no
		// container left. Either way no orphan remains.
		rt := harness.Await(t, eventWait, "the cut-off start to settle", func() (runtimeView, bool) {
			rt := mustRuntime(t, inst, midStart)
			return rt, rt.Status == "running" || rt.Status == "removed"
		})
		t.Logf("cut-off start settled as %s", rt.Status)
		switch rt.Status {
		case "running":
			if rt.ContainerID != mid.ID || rt.Generation != 1 || rt.Endpoint == "" {
				t.Fatalf("adopted record %+v; want container %s, generation 1, an endpoint", rt, mid.ID)
			}
			harness.Eventually(t, 20*time.Second, "the adopted engine to answer", func() bool {
				st, _ := engineGet(rt.Endpoint, "/healthz")
				return st == http.StatusOK
			})
			ev, _ := redis.awaitEvent(t, midStart, "container_started", mid.ID)
			t.Logf("adoption event %v", ev)
		case "removed":
			if rt.Endpoint != "" {
				t.Errorf("removed record %+v keeps an endpoint", rt)
			}
		}
		// The settled state holds across further reconcile passes (500ms).
		harness.Consistently(t, 2*time.Second, "the settled mid-start game", func() bool {
			now := mustRuntime(t, inst, midStart)
			if now.Status != rt.Status || now.ContainerID != rt.ContainerID {
				t.Logf("record moved to %+v", now)
				return false
			}
			cs := dockerPS(t, midStart)
			if rt.Status == "running" {
				return len(cs) == 1 && cs[0].ID == mid.ID && cs[0].State == "running"
			}
			return len(cs) == 0
		})
		for _, e := range redis.healthEvents(t, midStart) {
			if e["event_type"] == "orphan_removed" {
				t.Errorf("the cut-off start's container was treated as an orphan: %v", e)
			}
		}
		checkReconcilerEntry(t, inst, midStart, "")
		if rt.Status == "running" {
			mustOp(t, inst, midStart, "stop", stopBody)
		}
	})
}

func firstOr(cs []dockerCtr) dockerCtr {
	if len(cs) == 0 {
		return dockerCtr{}
	}
	return cs[0]
}

// checkReconcilerEntry checks the game's operation log holds a successful
// reconcile entry by the reconciler (naming container, when set).
func checkReconcilerEntry(t *testing.T, inst *harness.Instance, g, container string) {
	t.Helper()
	// The audit entry is written when the repair finishes, just after its
	// health event and record change: poll for it.
	var last map[string]any
	defer func() {
		if t.Failed() {
			t.Logf("last operations answer for %s (container %q): %v", g, container, last)
		}
	}()
	harness.Eventually(t, eventWait, "a successful reconcile entry by the reconciler for "+g, func() bool {
		st, m := inst.Get("/api/v1/internal/runtimes/" + g + "/operations?limit=50")
		last = m
		if st != http.StatusOK {
			return false
		}
		for _, o := range recode[struct {
			Items []operation `json:"items"`
		}](t, m).Items {
			if o.OpKind == "reconcile" && o.OpSource == "reconciler" && o.Outcome == "success" &&
				(container == "" || o.ContainerID == container) {
				return true
			}
		}
		return false
	})
}
