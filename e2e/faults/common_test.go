//go:build e2e

// Package faults holds rtmanager's fault tests: each test breaks one thing
// rtmanager depends on (its own process, Redis, PostgreSQL, dockerd, a
// driver plugin) or hammers one game with concurrent operations, and checks
// what rtmanager promises in docs/RELIABILITY.md. Every test logs its
// measured figures on lines starting with "FIGURE".
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// Stream names of SPEC §4.
const (
	startJobs    = "runtime:start_jobs"
	stopJobs     = "runtime:stop_jobs"
	jobResults   = "runtime:job_results"
	healthEvents = "runtime:health_events"
	group        = "rtmanager"
)

// figure logs one measured figure.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s: %s", t.Name(), fmt.Sprintf(format, args...))
}

// baseEnv is the configuration every fault test starts from: short
// intervals so repairs happen within the test, small engines, and a
// deployment scope of its own. In the default scope its reconciler (2s
// orphan grace) removed every default-scope engine on the Docker host
// older than 2s that its database did not know: those of tests of other
// packages or runs sharing the host (e.g. app TestServeAndGracefulShutdown).
func baseEnv(redisURL, dbURL string) map[string]string {
	return map[string]string{
		"RTMANAGER_DATABASE_URL":       dbURL,
		"RTMANAGER_REDIS_URL":          redisURL,
		"RTMANAGER_DRIVER":             "docker",
		"RTMANAGER_STOP_TIMEOUT":       "2s",
		"RTMANAGER_START_TIMEOUT":      "30s",
		"RTMANAGER_LEASE_TTL":          "4s",
		"RTMANAGER_RECONCILE_INTERVAL": "1s",
		"RTMANAGER_PROBE_INTERVAL":     "1s",
		"RTMANAGER_ORPHAN_GRACE":       "2s",
		"RTMANAGER_CLAIM_IDLE":         "5s",
		"RTMANAGER_MEMORY_LIMIT":       "64MiB",
		"RTMANAGER_CPU_LIMIT":          "0.25",
		"RTMANAGER_PIDS_LIMIT":         "64",
		"RTMANAGER_SHUTDOWN_TIMEOUT":   "5s",
		"RTMANAGER_SCOPE":              "flt" + testenv.RandomSuffix(4), // [a-z0-9]{1,20}
	}
}

// streams is a client of the instance's Redis.
type streams struct {
	rc rueidis.Client
}

func openStreams(t *testing.T, url string) *streams {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	opt.DisableCache, opt.ForceSingleClient = true, true
	rc, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("redis client %s: %v", opt.InitAddress, err)
	}
	t.Cleanup(rc.Close)
	return &streams{rc: rc}
}

func ctx10() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// xadd appends an entry and returns its key (see jobKey).
func (s *streams) xadd(t *testing.T, stream string, kv ...string) string {
	t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	fv := s.rc.B().Xadd().Key(stream).Id("*").FieldValue()
	for i := 0; i+1 < len(kv); i += 2 {
		fv = fv.FieldValue(kv[i], kv[i+1])
	}
	id, err := s.rc.Do(ctx, fv.Build()).ToString()
	if err != nil {
		t.Fatalf("XADD %s: %v", stream, err)
	}
	return jobKey(stream, id)
}

// jobKey names a job: entry ids are unique only within their stream, so a
// start and a stop job added in the same millisecond share one.
func jobKey(stream, id string) string { return stream + " " + id }

// startJob appends a start job and returns its key (see jobKey).
func (s *streams) startJob(t *testing.T, game, image string, env map[string]string) string {
	t.Helper()
	kv := []string{"game_id", game, "image_ref", image}
	if env != nil {
		b, _ := json.Marshal(env)
		kv = append(kv, "env", string(b))
	}
	return s.xadd(t, startJobs, kv...)
}

// entries returns every entry of stream.
func (s *streams) entries(t *testing.T, stream string) []rueidis.XRangeEntry {
	t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	es, err := s.rc.Do(ctx, s.rc.B().Xrange().Key(stream).Start("-").End("+").Build()).AsXRange()
	if err != nil && !rueidis.IsRedisNil(err) {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	return es
}

// pending returns how many entries of stream the group has delivered and
// not acknowledged.
func (s *streams) pending(t *testing.T, stream string) int64 {
	t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	arr, err := s.rc.Do(ctx, s.rc.B().Xpending().Key(stream).Group(group).Build()).ToArray()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return 0
		}
		t.Fatalf("XPENDING %s: %v", stream, err)
	}
	if len(arr) == 0 {
		return 0
	}
	n, _ := arr[0].AsInt64()
	return n
}

// resultsByJob groups the job results by job key (stream and id).
func (s *streams) resultsByJob(t *testing.T) map[string][]map[string]string {
	t.Helper()
	out := map[string][]map[string]string{}
	for _, e := range s.entries(t, jobResults) {
		k := jobKey(e.FieldValues["job_stream"], e.FieldValues["job_id"])
		out[k] = append(out[k], e.FieldValues)
	}
	return out
}

// healthOf returns the health events of game, oldest first.
func (s *streams) healthOf(t *testing.T, game string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, e := range s.entries(t, healthEvents) {
		if e.FieldValues["game_id"] == game {
			out = append(out, e.FieldValues)
		}
	}
	return out
}

// codeOf returns the error code of an answer: error_code of an
// OperationResult, error.code of an error body.
func codeOf(res map[string]any) string {
	if e, ok := res["error"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	c, _ := res["error_code"].(string)
	return c
}

// runtimeOf returns the runtime of an OperationResult.
func runtimeOf(res map[string]any) map[string]any {
	rt, _ := res["runtime"].(map[string]any)
	return rt
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

// mustOp runs op and fails the test unless it answers 200.
func mustOp(t *testing.T, inst *harness.Instance, game, op string, body any) map[string]any {
	t.Helper()
	st, res := inst.Op(game, op, body)
	if st != http.StatusOK {
		t.Fatalf("%s %s = %d %v", op, game, st, res)
	}
	return res
}

// violations compares the records of games with Docker's containers of
// every game whose id starts with prefix, and describes each difference:
// a game with two containers, a container no record accounts for (an
// orphan), a running record without its running container, a stopped
// record whose container runs, a removed record with a container left, a
// record stuck in starting, or an incomplete record.
func violations(t *testing.T, inst *harness.Instance, prefix string, games []string) []string {
	t.Helper()
	byGame := map[string][]harness.DockerContainer{}
	for _, c := range harness.DockerContainers(t, prefix) {
		byGame[c.GameID] = append(byGame[c.GameID], c)
	}
	var out []string
	known := map[string]bool{}
	for _, g := range games {
		known[g] = true
		cs := byGame[g]
		if len(cs) > 1 {
			out = append(out, fmt.Sprintf("%s: %d containers", g, len(cs)))
		}
		st, rt := inst.Get("/api/v1/internal/runtimes/" + g)
		if st == http.StatusNotFound {
			if len(cs) > 0 {
				out = append(out, fmt.Sprintf("%s: no record but %d containers (orphans)", g, len(cs)))
			}
			continue
		}
		if st != http.StatusOK {
			out = append(out, fmt.Sprintf("%s: GET = %d %v", g, st, rt))
			continue
		}
		status, cid, ep := str(rt, "status"), str(rt, "container_id"), str(rt, "endpoint")
		var mine *harness.DockerContainer
		for i := range cs {
			if cs[i].ID == cid {
				mine = &cs[i]
			} else {
				out = append(out, fmt.Sprintf("%s: orphan container %s (%s, gen %s) beside record %s/%s",
					g, cs[i].Name, cs[i].State, cs[i].Generation, status, short(cid)))
			}
		}
		switch status {
		case "running":
			if cid == "" || ep == "" {
				out = append(out, fmt.Sprintf("%s: running record without container id or endpoint: %v", g, rt))
			}
			if mine == nil || mine.State != "running" {
				out = append(out, fmt.Sprintf("%s: record running on %s but docker has %v", g, short(cid), mine))
			}
		case "stopped":
			if mine != nil && mine.State == "running" {
				out = append(out, fmt.Sprintf("%s: record stopped but container %s runs", g, mine.Name))
			}
			if ep != "" {
				out = append(out, fmt.Sprintf("%s: stopped record keeps endpoint %q", g, ep))
			}
		case "removed":
			if mine != nil {
				out = append(out, fmt.Sprintf("%s: record removed but container %s exists", g, mine.Name))
			}
		default:
			out = append(out, fmt.Sprintf("%s: record in status %q", g, status))
		}
	}
	for g, cs := range byGame {
		if !known[g] {
			out = append(out, fmt.Sprintf("container(s) of unexpected game %s: %d", g, len(cs)))
		}
	}
	sort.Strings(out)
	return out
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// settle waits up to timeout for violations to be empty and returns how
// long that took; it fails the test with the last violations otherwise.
func settle(t *testing.T, inst *harness.Instance, prefix string, games []string, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	var last []string
	for {
		if last = violations(t, inst, prefix, games); len(last) == 0 {
			return time.Since(began)
		}
		if time.Since(began) > timeout {
			t.Fatalf("records and containers still differ after %s:\n  %s", timeout, strings.Join(last, "\n  "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// statusCounts counts the games' record statuses.
func statusCounts(inst *harness.Instance, games []string) map[string]int {
	n := map[string]int{}
	for _, g := range games {
		rt := inst.Runtime(g)
		if rt == nil {
			n["no record"]++
			continue
		}
		n[str(rt, "status")]++
	}
	return n
}

// sample is one REST answer observed under load.
type sample struct {
	op             string
	game           string
	issued, answer time.Time
	status         int
	code           string
}

// recorder collects samples from several goroutines.
type recorder struct {
	mu sync.Mutex
	s  []sample
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.s = append(r.s, s)
	r.mu.Unlock()
}

func (r *recorder) all() []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sample(nil), r.s...)
}

// timedOp runs one operation (op "get" reads the runtime) and records it.
func timedOp(inst *harness.Instance, rec *recorder, game, op string, body any) sample {
	s := sample{op: op, game: game, issued: time.Now()}
	var res map[string]any
	if op == "get" {
		s.status, res = inst.Get("/api/v1/internal/runtimes/" + game)
	} else {
		s.status, res = inst.Op(game, op, body)
	}
	s.answer, s.code = time.Now(), codeOf(res)
	rec.add(s)
	return s
}

// countBy counts samples by "status code".
func countBy(ss []sample) map[string]int {
	n := map[string]int{}
	for _, s := range ss {
		n[fmt.Sprintf("%d %s", s.status, s.code)]++
	}
	return n
}
