//go:build e2e

package faults

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// outageFor is how long a dependency stays down.
const outageFor = 10 * time.Second

// maxRecovery is the promised time from a dependency's return to the first
// successful operation.
const maxRecovery = 5 * time.Second

// TestRedisOutageUnderLoad kills rtmanager's redis-server (SIGKILL; it
// keeps an fsynced append-only file, so acknowledged writes survive) for
// 10 s while REST operations run continuously and stream jobs are in
// flight, then starts it again.
func TestRedisOutageUnderLoad(t *testing.T) {
	image := testenv.EngineImage(t)
	db := testenv.PostgresURL(t)
	redis := harness.StartRedis(t)
	outageUnderLoad(t, image, redis, db, "redis", redis.Kill, redis.Start)
}

// TestPostgresOutageUnderLoad stops rtmanager's PostgreSQL (pg_ctl stop -m
// fast: connections are terminated) for 10 s while REST operations run
// continuously and stream jobs are in flight, then starts it again.
func TestPostgresOutageUnderLoad(t *testing.T) {
	image := testenv.EngineImage(t)
	pg := harness.StartPostgres(t)
	redis := harness.StartRedis(t)
	outageUnderLoad(t, image, redis, pg.URL(), "postgres", pg.Stop, pg.Start)
}

// outageUnderLoad runs the outage scenario shared by the Redis and the
// PostgreSQL test:
//
//   - three load goroutines cycle start → restart → stop on their own game
//     through REST without pause; a probe goroutine alternates a stop of a
//     stopped game (replay_no_op: it needs the lease and the record) and a
//     GET of it; a third polls /readyz;
//   - six start jobs (engines ready after 1 s) are added to the stream, and
//     once some are in flight the dependency goes down for 10 s;
//   - every answer must be 200, 409 conflict or 503 service_unavailable;
//     no operation may succeed while the dependency is down, and some must
//     have answered 503;
//   - after the dependency returns, an operation must succeed within 5 s;
//   - every stream job gets exactly one result, and the records equal
//     Docker once the reconciler has run.
func outageUnderLoad(t *testing.T, image string, redis *harness.Redis, dbURL, dep string, down, up func()) {
	prefix := harness.GameID(dep[:2] + "out")
	harness.RemoveDockerContainersByPrefix(t, prefix)
	env := baseEnv(redis.URL(), dbURL)
	env["RTMANAGER_CLAIM_IDLE"] = "10s"
	inst := harness.Start(t, harness.Options{Env: env})
	st := openStreams(t, "redis://"+redis.Addr())

	probe := prefix + "-probe"
	mustOp(t, inst, probe, "start", map[string]any{"image_ref": image})
	mustOp(t, inst, probe, "stop", map[string]any{"reason": "admin_request"})
	games := []string{probe}

	rec := &recorder{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range 3 {
		g := fmt.Sprintf("%s-load%d", prefix, i)
		games = append(games, g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := []struct {
				op   string
				body any
			}{
				{"start", map[string]any{"image_ref": image}},
				{"restart", nil},
				{"stop", map[string]any{"reason": "admin_request"}},
			}
			for k := 0; !stop.Load(); k++ {
				o := ops[k%len(ops)]
				if s := timedOp(inst, rec, g, o.op, o.body); s.status != http.StatusOK {
					time.Sleep(20 * time.Millisecond) // the load's pace after a refusal
				}
			}
		}()
	}
	probes := &recorder{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; !stop.Load(); k++ {
			if k%2 == 0 {
				timedOp(inst, probes, probe, "stop", map[string]any{"reason": "admin_request"})
			} else {
				timedOp(inst, probes, probe, "get", nil)
			}
			time.Sleep(50 * time.Millisecond) // the probe's pace, not a wait for a condition
		}
	}()
	ready := &recorder{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			s := sample{op: "readyz", issued: time.Now()}
			s.status, _ = inst.Get("/readyz")
			s.answer = time.Now()
			ready.add(s)
			time.Sleep(50 * time.Millisecond) // the poller's pace
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	harness.Eventually(t, 30*time.Second, "load answering", func() bool { return len(rec.all()) >= 6 })
	jobs := map[string]string{}
	for i := range 6 {
		g := fmt.Sprintf("%s-job%d", prefix, i)
		games = append(games, g)
		jobs[st.startJob(t, g, image, map[string]string{"ENGINE_START_DELAY": "1s"})] = g
	}
	harness.Eventually(t, 20*time.Second, "stream jobs in flight", func() bool { return st.pending(t, startJobs) > 0 })

	tDown := time.Now()
	down()
	time.Sleep(outageFor) // deliberate: the outage lasts 10 s
	tUpBegin := time.Now()
	up()
	tUp := time.Now()
	t.Logf("%s down at %s, back at %s (up() took %s)", dep, tDown.Format("15:04:05.000"), tUp.Format("15:04:05.000"), tUp.Sub(tUpBegin))

	harness.Eventually(t, 30*time.Second, "a successful operation after the outage", func() bool {
		for _, s := range probes.all() {
			if s.op == "stop" && s.issued.After(tUp) && s.status == http.StatusOK {
				return true
			}
		}
		return false
	})
	harness.Eventually(t, 30*time.Second, "/readyz 200 after the outage", func() bool {
		for _, s := range ready.all() {
			if s.issued.After(tUp) && s.status == http.StatusOK {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // deliberate: keep the load on after recovery
	stop.Store(true)
	wg.Wait()

	all := append(rec.all(), probes.all()...)
	var during, okDuring, unavailableDuring []sample
	for _, s := range all {
		switch {
		case s.status == http.StatusOK:
		case s.status == http.StatusConflict && s.code == "conflict":
		case s.status == http.StatusServiceUnavailable && s.code == "service_unavailable":
		default:
			t.Errorf("%s %s at %s: answer %d %q, want 200, 409 conflict or 503 service_unavailable",
				s.op, s.game, s.issued.Format("15:04:05.000"), s.status, s.code)
		}
		// Requests issued after the dependency had been down for a
		// second and answered before it was started again.
		if s.issued.After(tDown.Add(time.Second)) && s.answer.Before(tUpBegin) {
			during = append(during, s)
			if s.status == http.StatusOK && s.op != "get" {
				okDuring = append(okDuring, s)
			}
			if s.status == http.StatusServiceUnavailable {
				unavailableDuring = append(unavailableDuring, s)
			}
		}
	}
	for _, s := range okDuring {
		t.Errorf("%s %s succeeded while %s was down (issued %s)", s.op, s.game, dep, s.issued.Format("15:04:05.000"))
	}
	if len(unavailableDuring) == 0 {
		t.Errorf("no 503 while %s was down: %v", dep, countBy(during))
	}

	var recovery, readyRecovery time.Duration = -1, -1
	for _, s := range probes.all() {
		if s.op == "stop" && s.issued.After(tUp) && s.status == http.StatusOK {
			if d := s.answer.Sub(tUp); recovery < 0 || d < recovery {
				recovery = d
			}
		}
	}
	for _, s := range ready.all() {
		if s.issued.After(tUp) && s.status == http.StatusOK {
			if d := s.answer.Sub(tUp); readyRecovery < 0 || d < readyRecovery {
				readyRecovery = d
			}
		}
	}
	if recovery > maxRecovery {
		t.Errorf("first successful operation %s after %s returned, want ≤ %s", recovery, dep, maxRecovery)
	}

	// Every stream job added before the outage gets exactly one result.
	harness.Eventually(t, 90*time.Second, "results of the stream jobs", func() bool {
		res := st.resultsByJob(t)
		for id := range jobs {
			if len(res[id]) == 0 {
				return false
			}
		}
		return true
	})
	res := st.resultsByJob(t)
	outcomes := map[string]int{}
	var duringOutage, afterOutage int
	for id, g := range jobs {
		if n := len(res[id]); n != 1 {
			t.Errorf("start job %s (%s) has %d results, want 1: %v", id, g, n, res[id])
			continue
		}
		r := res[id][0]
		outcomes[fmt.Sprintf("%s %s", r["outcome"], r["error_code"])]++
		if at, err := time.Parse(time.RFC3339Nano, r["finished_at"]); err == nil && at.Before(tUpBegin) {
			duringOutage++
		} else {
			afterOutage++
		}
	}
	settled := settle(t, inst, prefix, games, 30*time.Second)

	figure(t, "%d REST answers under load: %s", len(all), fmtCounts(countBy(all)))
	figure(t, "while %s was down (10 s): %d answers, %s; 0 operations succeeded", dep, len(during), fmtCounts(countBy(during)))
	figure(t, "recovery after %s returned: first successful operation %.2fs, /readyz 200 %.2fs", dep, recovery.Seconds(), readyRecovery.Seconds())
	figure(t, "stream jobs in flight when %s went down: %d/%d with exactly one result (%s); %d results finished while it was down, %d after",
		dep, countOne(res, jobs), len(jobs), fmtCounts(outcomes), duringOutage, afterOutage)
	figure(t, "records equalled Docker %.1fs after the load stopped; final statuses %v", settled.Seconds(), statusCounts(inst, games))
}
