//go:build e2e

package faults

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestKillWithJobsInFlight sends SIGKILL to rtmanager while a burst of 20
// start and 10 stop jobs is being handled, starts it again on the same
// Redis and database, and checks that every job gets exactly one result,
// that no job stays pending, and that after the reconciler's passes no
// container is orphaned, no game has two containers and every record
// equals what Docker runs.
func TestKillWithJobsInFlight(t *testing.T) {
	image := testenv.EngineImage(t)
	db := testenv.PostgresURL(t)
	redis := harness.StartRedis(t)
	prefix := harness.GameID("kill")
	harness.RemoveDockerContainersByPrefix(t, prefix)

	env := baseEnv(redis.URL(), db)
	env["RTMANAGER_STREAM_CONCURRENCY"] = "8"
	inst := harness.Start(t, harness.Options{Env: env})
	st := openStreams(t, "redis://"+redis.Addr())

	const starts, stops = 20, 10
	var games []string
	jobs := map[string]string{} // job id → "start g" / "stop g"
	for i := range starts {
		g := fmt.Sprintf("%s-%02d", prefix, i)
		games = append(games, g)
		// The engine listens only after 3s, so each start is in flight
		// (container created, record starting) for at least that long.
		jobs[st.startJob(t, g, image, map[string]string{"ENGINE_START_DELAY": "3s"})] = "start " + g
	}
	for i := range stops {
		jobs[st.xadd(t, stopJobs, "game_id", games[i], "reason", "game_finished")] = "stop " + games[i]
	}

	// Kill once the first jobs are done and the next ones are in flight.
	harness.Eventually(t, 60*time.Second, "first job results", func() bool {
		return len(st.resultsByJob(t)) >= 5
	})
	inst.Kill()
	killed := time.Now()
	atKill := len(st.resultsByJob(t))
	containersAtKill := len(harness.DockerContainers(t, prefix))
	pendingAtKill := st.pending(t, startJobs) + st.pending(t, stopJobs)
	figure(t, "at SIGKILL: %d/%d jobs had results, %d pending (delivered, unacknowledged), %d containers existed",
		atKill, len(jobs), pendingAtKill, containersAtKill)
	if atKill >= len(jobs) {
		t.Fatalf("every job finished before the kill; the fault was not exercised")
	}

	inst.Restart()
	harness.Eventually(t, 120*time.Second, "a result for every job", func() bool {
		return len(st.resultsByJob(t)) >= len(jobs)
	})
	allResults := time.Since(killed)
	settled := settle(t, inst, prefix, games, 30*time.Second)
	figure(t, "after restart: every job had a result %.1fs after the kill; records equalled Docker %.1fs later",
		allResults.Seconds(), settled.Seconds())

	// Stable: a few more reconcile passes change nothing.
	time.Sleep(3 * time.Second) // deliberate: let three more reconcile passes run
	if v := violations(t, inst, prefix, games); len(v) > 0 {
		t.Fatalf("records and containers differ again after more reconcile passes: %v", v)
	}

	res := st.resultsByJob(t)
	outcomes := map[string]int{}
	for id, what := range jobs {
		rs := res[id]
		if len(rs) != 1 {
			t.Errorf("job %s (%s) has %d results, want exactly 1: %v", id, what, len(rs), rs)
			continue
		}
		r := rs[0]
		outcomes[fmt.Sprintf("%s %s %s", r["op_kind"], r["outcome"], r["error_code"])]++
		if r["error_code"] == "internal" {
			t.Errorf("job %s (%s): internal error: %v", id, what, r)
		}
	}
	for id := range res {
		if _, ok := jobs[id]; !ok {
			t.Errorf("result for unknown job %s: %v", id, res[id])
		}
	}
	if p := st.pending(t, startJobs) + st.pending(t, stopJobs); p != 0 {
		t.Errorf("%d jobs still pending", p)
	}
	// A stop job added after a game's start job, whose start was in flight
	// at the kill, may be handled before the start is redelivered (claimed
	// after RTMANAGER_CLAIM_IDLE); the redelivered start must then not be
	// applied.
	overtaken := 0
	for _, g := range games[:stops] {
		if rt := inst.Runtime(g); rt != nil && str(rt, "status") == "running" {
			overtaken++
			_, ops := inst.Get("/api/v1/internal/runtimes/" + g + "/operations?limit=20")
			t.Logf("%s: stop job handled before its redelivered start; operations (newest first): %s", g, opsLine(ops))
		}
	}
	figure(t, "%d of %d games ended running although their stop job came after their start job", overtaken, stops)
	if overtaken != 0 {
		t.Errorf("%d games ended running although their stop job came after their start job", overtaken)
	}
	containers := harness.DockerContainers(t, prefix)
	figure(t, "results per job: exactly 1 for %d/%d jobs; outcomes %s; final statuses %v; %d containers for %d games; 0 orphans, 0 games with two containers",
		countOne(res, jobs), len(jobs), fmtCounts(outcomes), statusCounts(inst, games), len(containers), len(games))
}

func countOne(res map[string][]map[string]string, jobs map[string]string) int {
	n := 0
	for id := range jobs {
		if len(res[id]) == 1 {
			n++
		}
	}
	return n
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := "{"
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d", k, m[k])
	}
	return s + "}"
}

// opsLine summarises an operation list.
func opsLine(ops map[string]any) string {
	items, _ := ops["items"].([]any)
	s := ""
	for _, it := range items {
		m, _ := it.(map[string]any)
		s += fmt.Sprintf("[%s/%s %s %s %s] ", str(m, "op_kind"), str(m, "op_source"), str(m, "source_ref"), str(m, "outcome"), str(m, "error_code"))
	}
	return s
}
