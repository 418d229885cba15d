//go:build bench

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// The scale figures of issue 17. Each test logs lines starting with FIGURE;
// run them alone (they are not part of TestReport):
//
//	go test -tags bench -run '^TestScale' -count=1 -timeout 30m -v ./e2e/bench

// TestScaleReconcile100k times reconcile passes over 100,000 running
// records on PostgreSQL, the fake driver listing their 100,000 containers
// (measureReconcile at 100,000). Goal: < 1 s per pass.
func TestScaleReconcile100k(t *testing.T) {
	const n, passes = 100_000, 5
	r := measureReconcile(t, newStack(t, nil), "PostgreSQL", n, passes)
	var ps []string
	for _, d := range r.Passes {
		ps = append(ps, ms(d))
	}
	t.Logf("FIGURE reconcile pass over %d running records (PostgreSQL, fake driver listing %d matching containers): "+
		"median %s over %d passes (%s); goal < 1 s: %s", n, n, ms(r.Median()), passes, strings.Join(ps, ", "),
		verdict(r.Median() < time.Second))
}

// TestScaleRSS10k measures the RSS of `rtmanager serve` (the binary, on
// PostgreSQL and a private redis-server) whose database holds 10,000
// running records and whose driver lists their 10,000 containers: the
// fleetplugin (testdata), the fake driver behind the plugin host. The
// records are written straight through the store once the plugin runs the
// fleet; the figures are taken once a reconcile pass found all of them
// consistent, sampling VmRSS every 200 ms for 15 s (15 reconcile passes at
// a 1 s interval, one or two probe rounds over the 10,000 endpoints; nobody
// listens on them and PROBE_FAILURES is at its maximum, so the failed
// probes cost their work but move no record). Goal: < 100 MB.
//
// With RTMANAGER_BENCH_BASELINE_BIN naming another rtmanager build (e.g.
// main's), the test measures it and this tree's build alternately, two
// rounds each, in the same run.
func TestScaleRSS10k(t *testing.T) {
	const n = 10_000
	plugin := filepath.Join(t.TempDir(), "fleetplugin")
	build := exec.Command("go", "build", "-o", plugin, "./e2e/bench/testdata/fleetplugin")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fleetplugin: %v\n%s", err, out)
	}
	baseline := os.Getenv("RTMANAGER_BENCH_BASELINE_BIN")
	if baseline == "" {
		r := measureRSS(t, plugin, "", n)
		t.Logf("FIGURE RSS of rtmanager serve with %d running records (PostgreSQL, driver plugin listing %d containers, "+
			"%d consistent reconcile passes in 15 s): %s; goal < 100 MB: %s", n, n, r.passes, r, verdict(r.hwm < 100e6))
		return
	}
	for round := range 2 {
		for _, bin := range []string{baseline, ""} {
			name := "this tree"
			if bin != "" {
				name = "baseline " + bin
			}
			r := measureRSS(t, plugin, bin, n)
			t.Logf("FIGURE RSS round %d, %s, with %d running records (PostgreSQL, driver plugin listing %d containers, "+
				"%d consistent reconcile passes in 15 s): %s; goal < 100 MB: %s", round+1, name, n, n, r.passes, r,
				verdict(r.hwm < 100e6))
		}
	}
}

// rssResult is what measureRSS saw of one rtmanager process, in bytes.
type rssResult struct {
	hwm, peak, last, before int64
	passes                  int
}

func (r rssResult) String() string {
	return fmt.Sprintf("VmHWM %.1f MiB (%.1f MB), sampled peak %.1f MiB, last %.1f MiB (%.1f MiB with the containers but no records)",
		mb(r.hwm), float64(r.hwm)/1e6, mb(r.peak), mb(r.last), mb(r.before))
}

// measureRSS runs binary (this tree's when empty) as TestScaleRSS10k
// describes and returns its RSS figures.
func measureRSS(t *testing.T, plugin, binary string, n int) rssResult {
	t.Helper()
	prefix := "rss-" + testenv.RandomSuffix(4)
	idsFile := filepath.Join(t.TempDir(), "fleet.tsv")
	pg := testenv.PostgresURL(t)
	redis := harness.StartRedisServer(t)
	inst := harness.Start(t, harness.Options{Binary: binary, Env: map[string]string{
		"RTMANAGER_DATABASE_URL": pg, "RTMANAGER_REDIS_URL": redis.URL,
		"RTMANAGER_DRIVER": "plugin", "RTMANAGER_PLUGIN_PATH": plugin,
		"RTMANAGER_PLUGIN_ARGS":        strings.Join([]string{fmt.Sprint(n), prefix, benchImage, idsFile}, ","),
		"RTMANAGER_LOG_LEVEL":          "debug", // the reconcile pass reports at debug
		"RTMANAGER_RECONCILE_INTERVAL": "1s", "RTMANAGER_ORPHAN_GRACE": "1h", "RTMANAGER_PROBE_FAILURES": "1000",
	}})
	defer inst.Stop()
	harness.Eventually(t, 2*time.Minute, "the plugin's fleet", func() bool {
		_, err := os.Stat(idsFile)
		return err == nil
	})
	var r rssResult
	var err error
	if r.before, err = harness.RSS(inst.Pid()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(idsFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var recs []core.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("fleet line %q", line)
		}
		recs = append(recs, runningRecord(f[0], ports.Container{ID: f[1], Endpoint: f[2]}, now))
	}
	if len(recs) != n {
		t.Fatalf("fleet has %d containers, want %d", len(recs), n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlstore.OpenConfig(ctx, withURL(sqlstore.Config{MaxConns: 16}, pg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedRecords(t, db, recs)
	consistent := fmt.Sprintf("Records:%d Containers:%d Disappeared:0 Exited:0 Adopted:0 Abandoned:0 Orphans:0 Skipped:0 Failed:0", n, n)
	harness.Eventually(t, 2*time.Minute, "a reconcile pass over all records", func() bool {
		return strings.Contains(inst.Logs(), consistent)
	})
	passesBefore := strings.Count(inst.Logs(), consistent)
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if r.last, err = harness.RSS(inst.Pid()); err != nil {
			t.Fatal(err)
		}
		r.peak = max(r.peak, r.last)
	}
	r.hwm = vmHWM(t, inst.Pid())
	logs := inst.Logs()
	r.passes = strings.Count(logs, consistent) - passesBefore
	if r.passes < 5 || strings.Count(logs, "Records:") > strings.Count(logs, "Disappeared:0 Exited:0") {
		t.Fatalf("%d consistent reconcile passes in 15 s, or a pass repaired something; log tail:\n%s", r.passes,
			logs[max(0, len(logs)-4000):])
	}
	return r
}

// TestScaleDockerStarts200 starts 200 games at once through the REST API
// of `rtmanager serve` on Docker (each start returns when its engine
// answers /healthz), then creates and starts 200 containers at once
// through the raw Docker API with the same hardening and readiness poll
// (rawStart), and compares containers per second. All containers are
// removed by label or name before the next phase and at the end.
func TestScaleDockerStarts200(t *testing.T) {
	const n = 200
	image := testenv.EngineImage(t)
	cli, err := client.New(client.WithHost(testenv.DockerHost(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Ping(context.Background(), client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatal(err)
	}
	sfx := testenv.RandomSuffix(4)
	redis := harness.StartRedisServer(t)
	inst := harness.Start(t, harness.Options{Env: map[string]string{
		"RTMANAGER_DATABASE_URL": testenv.PostgresURL(t), "RTMANAGER_REDIS_URL": redis.URL,
		"RTMANAGER_DRIVER": "docker", "RTMANAGER_LOG_LEVEL": "warn",
		"RTMANAGER_MAX_INFLIGHT": fmt.Sprint(2 * n), "RTMANAGER_START_TIMEOUT": "120s",
	}})
	games := make([]string, n)
	for i := range games {
		games[i] = fmt.Sprintf("s200-%s-%03d", sfx, i)
	}
	rtmFilter := client.Filters{}.Add("name", "s200-"+sfx+"-")
	rawFilter := client.Filters{}.Add("label", "bench.scale="+sfx)
	t.Cleanup(func() { removeContainers(t, cli, rtmFilter); removeContainers(t, cli, rawFilter) })

	var failed atomic.Int64
	var firstErr atomic.Value
	rtm := concurrently(n, func(i int) {
		if st, res := inst.Op(games[i], "start", map[string]any{"image_ref": image}); st != 200 {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, fmt.Sprintf("start %s: %d %v", games[i], st, res))
		}
	})
	if failed.Load() > 0 {
		t.Fatalf("%d of %d starts through rtmanager failed, e.g. %v", failed.Load(), n, firstErr.Load())
	}
	removeContainers(t, cli, rtmFilter)
	raw := concurrently(n, func(i int) {
		if _, err := rawStart(cli, image, fmt.Sprintf("bench-s200-%s-%03d", sfx, i), map[string]string{"bench.scale": sfx}); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	})
	if failed.Load() > 0 {
		t.Fatalf("%d of %d raw starts failed, e.g. %v", failed.Load(), n, firstErr.Load())
	}
	rtmRate, rawRate := float64(n)/rtm.Seconds(), float64(n)/raw.Seconds()
	t.Logf("FIGURE %d concurrent starts on Docker (start → engine /healthz 200): rtmanager REST %.1f containers/s (%s), "+
		"raw Docker API create+start+inspect+ready %.1f containers/s (%s); rtmanager/raw %.2f×",
		n, rtmRate, ms(rtm), rawRate, ms(raw), rtmRate/rawRate)
}

// vmHWM returns the peak resident set (VmHWM) of process pid in bytes.
func vmHWM(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(v, &kb); err != nil {
				tb.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// concurrently runs f(0) … f(n-1) at once and returns how long all took.
func concurrently(n int, f func(i int)) time.Duration {
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
	return time.Since(begin)
}

// removeContainers force-removes the containers matching f, 16 at once.
func removeContainers(tb testing.TB, cli *client.Client, f client.Filters) {
	tb.Helper()
	ctx := context.Background()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		tb.Errorf("list containers %v: %v", f, err)
		return
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, c := range res.Items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
				tb.Errorf("remove %s: %v", c.ID, err)
			}
		}()
	}
	wg.Wait()
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(string(bytes.TrimSpace(out)))
}
