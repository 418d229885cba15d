//go:build e2e

package e2e

import (
	"net/http"
	"testing"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestSmokeEmbeddedDocker runs the binary on its embedded defaults with the
// Docker driver: start, probe the engine, stop, clean up.
func TestSmokeEmbeddedDocker(t *testing.T) {
	testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	inst := harness.Start(t, harness.Options{})
	g := harness.GameID("smoke")
	harness.RemoveDockerContainers(t, g)
	st, res := inst.Op(g, "start", map[string]any{"image_ref": image})
	if st != http.StatusOK || res["outcome"] != "success" {
		t.Fatalf("start = %d %v", st, res)
	}
	rt := res["runtime"].(map[string]any)
	resp, err := http.Get("http://" + rt["endpoint"].(string) + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("engine health: %v %v", resp, err)
	}
	resp.Body.Close()
	if st, res = inst.Op(g, "stop", map[string]any{"reason": "game_finished"}); st != 200 || res["runtime"].(map[string]any)["status"] != "stopped" {
		t.Fatalf("stop = %d %v", st, res)
	}
	if st, res = inst.Op(g, "cleanup", nil); st != 200 || res["runtime"].(map[string]any)["status"] != "removed" {
		t.Fatalf("cleanup = %d %v", st, res)
	}
}
