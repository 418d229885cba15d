//go:build e2e

package faults

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestConcurrentOperationsOnOneGame releases 100 goroutines at once, each
// sending one start, stop or restart of the same game through REST, in two
// rounds (the game running, then stopped, before the round). The game's
// lease serialises them: every answer must be a success, a replay_no_op or
// a conflict (never a 5xx or another code), and afterwards the game has
// exactly one container and its record equals Docker.
func TestConcurrentOperationsOnOneGame(t *testing.T) {
	image := testenv.EngineImage(t)
	db := testenv.PostgresURL(t)
	redis := harness.StartRedis(t)
	g := harness.GameID("conc")
	harness.RemoveDockerContainersByPrefix(t, g)
	inst := harness.Start(t, harness.Options{Env: baseEnv(redis.URL(), db)})

	mustOp(t, inst, g, "start", map[string]any{"image_ref": image})
	for round, before := range []string{"running", "stopped"} {
		if before == "stopped" {
			mustOp(t, inst, g, "stop", map[string]any{"reason": "admin_request"})
		}
		const n = 100
		type answer struct {
			op     string
			status int
			code   string
		}
		answers := make([]answer, n)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				op := []string{"start", "stop", "restart"}[i%3]
				var body any
				switch op {
				case "start":
					body = map[string]any{"image_ref": image}
				case "stop":
					body = map[string]any{"reason": "admin_request"}
				}
				<-release
				st, res := inst.Op(g, op, body)
				answers[i] = answer{op, st, codeOf(res)}
			}()
		}
		began := time.Now()
		close(release)
		wg.Wait()
		took := time.Since(began)

		counts := map[string]int{}
		for _, a := range answers {
			key := fmt.Sprintf("%s %d %s", a.op, a.status, a.code)
			counts[key]++
			switch {
			case a.status == http.StatusOK && (a.code == "" || a.code == "replay_no_op"):
			case a.status == http.StatusConflict && a.code == "conflict":
			default:
				t.Errorf("round %d: %s answered %d %q, want success, replay_no_op or conflict", round+1, a.op, a.status, a.code)
			}
		}
		if v := violations(t, inst, g, []string{g}); len(v) > 0 {
			t.Errorf("round %d: right after the burst: %v", round+1, v)
		}
		cs := harness.DockerContainers(t, g)
		rt := inst.Runtime(g)
		if len(cs) != 1 {
			t.Errorf("round %d: %d containers for the game, want exactly 1: %v", round+1, len(cs), cs)
		}
		settle(t, inst, g, []string{g}, 10*time.Second)
		figure(t, "round %d (game %s before): 100 concurrent operations answered in %.2fs: %s; after: record %s gen %v, %d container(s), record equals Docker",
			round+1, before, took.Seconds(), fmtCounts(counts), str(rt, "status"), rt["generation"], len(cs))
	}
}
