//go:build e2e

package blackbox

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestJanitorCleansUpStoppedRuntimes: a runtime stopped longer than
// RTMANAGER_CLEANUP_AFTER is cleaned up by the janitor (op_source janitor),
// its container removed; a running one is left alone.
func TestJanitorCleansUpStoppedRuntimes(t *testing.T) {
	testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	env := baseEnv()
	env["RTMANAGER_CLEANUP_AFTER"] = "1s"
	inst := harness.Start(t, harness.Options{Env: env})
	stopped, running := harness.GameID("jan-stop"), harness.GameID("jan-run")
	harness.RemoveDockerContainers(t, stopped, running)
	for _, g := range []string{stopped, running} {
		if st, m := inst.Op(g, "start", map[string]any{"image_ref": image}); st != http.StatusOK {
			t.Fatalf("start %s = %d %v", g, st, m)
		}
	}
	if st, m := inst.Op(stopped, "stop", map[string]any{"reason": "game_finished"}); st != http.StatusOK {
		t.Fatalf("stop = %d %v", st, m)
	}
	harness.Eventually(t, 30*time.Second, "the janitor to remove "+stopped, func() bool {
		rt := inst.Runtime(stopped)
		return rt != nil && rt["status"] == "removed"
	})
	_, ops := inst.Get("/api/v1/internal/runtimes/" + stopped + "/operations?limit=1")
	items, _ := ops["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("operations = %v", ops)
	}
	if e := items[0].(map[string]any); e["op_kind"] != "cleanup" || e["op_source"] != "janitor" || e["outcome"] != "success" {
		t.Errorf("newest entry = %v, want a successful janitor cleanup", e)
	}
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=rtmanager.game_id="+stopped).Output()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("containers of the cleaned game: %q, %v", out, err)
	}
	if rt := inst.Runtime(running); rt == nil || rt["status"] != "running" {
		t.Errorf("the running game = %v, want it left alone", rt)
	}
}
