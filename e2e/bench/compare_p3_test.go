//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// p3Variants are the designs TestP3Compare measures, all on cached plans
// with the last swap and its audit entry in one statement (P2's default):
// per-call = every lease acquisition, lease release, audit append and job
// result is its own round trip (the design before batched ingress);
// batched = calls made at the same moment share one (ports.Coalescer over
// ports.LeaseBatcher, OperationLog.AppendOperations and
// ports.BatchCompleter), a stream job reading its record and then its job
// order, each reservation its own Create; +parallel = batched with both
// reads at once; +creates = +parallel with the reservations of starts
// made at the same moment in one statement (ports.BatchCreator; the
// default); +running batch = +creates with the running writes of starts in
// one pipelined transaction (ports.BatchSwapSnapshotter; measured, not
// the default).
var p3Variants = []struct {
	name                            string
	batched, serial, sole, batchRun bool
}{
	{"per-call", false, true, true, false},
	{"batched", true, true, true, false},
	{"+parallel", true, false, true, false},
	{"+creates", true, false, false, false},
	{"+running batch", true, false, false, true},
}

// p3Row is one measurement of compareP3.
type p3Row struct {
	Round   int
	Variant string
	Result  streamResult
	// Per job: Redis round trips the stack's ports made (lease and queue
	// calls, reads included), lease round trips, SQL statements.
	LeaseRT, Stmts float64
	// RedisCmds is the commands Redis ran per job (INFO commandstats,
	// scripts' inner commands included), by command.
	RedisCmds map[string]float64
	// Calls is the port calls' table (calls per job, mean latency) of a
	// start row.
	Calls string
}

func (r p3Row) perJob(d time.Duration) float64 { return perJob(d, r.Result.Jobs) }

// compareP3 measures P3 (stop and start jobs through the ingress, 32 at
// once) for each of p3Variants on its own stack, rotating their order
// every round.
func compareP3(t *testing.T, rounds int) []p3Row {
	stacks := make([]*stack, len(p3Variants))
	for i, v := range p3Variants {
		s := newStackBatch(t, nil, sqlstore.Config{MaxConns: 12}, writesPublishRelease, v.batched)
		s.deps.Config.SerialReads, s.deps.Config.SingleCreates = v.serial, v.sole
		s.deps.Config.BatchRunningWrites = v.batchRun
		svc, err := lifecycle.New(s.deps)
		if err != nil {
			t.Fatal(err)
		}
		s.services, stacks[i] = svc, s
	}
	var rows []p3Row
	for round := range rounds {
		for k := range p3Variants {
			i := (k + round) % len(p3Variants)
			s := stacks[i]
			for _, job := range []struct {
				kind string
				n    int
			}{{"stop", 5000}, {"start", 2000}} {
				before := redisCalls(t, s)
				s.timings.reset()
				r := measureStream(t, s, job.kind, job.n, 32)
				after := redisCalls(t, s)
				row := p3Row{Round: round + 1, Variant: p3Variants[i].name, Result: r,
					LeaseRT:   s.timings.perOp(int64(r.Jobs), "lease."),
					Stmts:     s.timings.perOp(int64(r.Jobs), "records.", "oplog.", "snapshot."),
					RedisCmds: map[string]float64{}}
				for cmd, n := range after {
					if d := n - before[cmd]; d > 0 && cmd != "info" && cmd != "xlen" {
						row.RedisCmds[cmd] = float64(d) / float64(r.Jobs)
					}
				}
				if job.kind == "start" {
					row.Calls = s.timings.table(int64(r.Jobs))
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// TestP3Compare logs compareP3: jobs/s, round trips and statements per
// job, and CPU per job split by process. Run it alone:
// go test -tags bench -run TestP3Compare -v ./e2e/bench; P3_ROUNDS sets
// the rounds (default 3).
func TestP3Compare(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("P3_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for _, r := range compareP3(t, rounds) {
		var cmds []string
		for cmd, n := range r.RedisCmds {
			cmds = append(cmds, fmt.Sprintf("%s %.2f", cmd, n))
		}
		sort.Strings(cmds)
		t.Logf("round %d %-14s %-5s: %5.0f jobs/s, CPU µs/job total %.0f (rtmanager %.0f, PostgreSQL %.0f, Redis %.0f); "+
			"lease round trips/job %.2f, SQL statements/job %.2f; Redis commands/job, scripts' inner ones included: %s",
			r.Round, r.Variant, r.Result.Kind, r.Result.PerSecond(), r.perJob(r.Result.CPU.Total()),
			r.perJob(r.Result.CPU.Bench), r.perJob(r.Result.CPU.Postgres), r.perJob(r.Result.CPU.Redis),
			r.LeaseRT, r.Stmts, strings.Join(cmds, ", "))
		if r.Calls != "" && os.Getenv("P3_CALLS") != "" {
			t.Logf("port calls of those start jobs:\n%s", r.Calls)
		}
	}
}

// writeP3Designs renders compareP3's rows for docs/BENCHMARKS.md.
func writeP3Designs(w func(string, ...any), rows []p3Row) {
	w("### Designs side by side (issue 17: batched ingress)\n\n")
	w("Five designs, each on its own stack (cached plans and SwapAppend as in P2, pools of 12 + 6, a private " +
		"redis-server), 32 jobs at once, their order rotated every round: **per-call** = every lease acquisition, " +
		"lease release, record read, job-order read, audit append and job result is its own round trip (the design " +
		"before); **batched** = calls that concurrent jobs make at the same moment share one round trip " +
		"(`ports.Coalescer`: the first call flushes alone at once, calls arriving meanwhile go together in the next " +
		"flush) through `ports.LeaseBatcher`, `ports.BatchReader`, `OperationLog.AppendOperations` and " +
		"`ports.BatchCompleter`, a stream job reading its record and then its job order, each reservation its own " +
		"Create; **+parallel** = batched with the record read and the job-order read in flight at once; **+creates** = " +
		"+parallel with the reservations of starts made at the same moment in one INSERT (`ports.BatchCreator`; the " +
		"default); **+running batch** = +creates with the starts' running writes in one pipelined transaction " +
		"(`ports.BatchSwapSnapshotter`; measured, not the default). Lease and SQL figures count the port calls (a batch is one); " +
		"`evalsha` is the Redis scripts run per job.\n\n")
	w("| round | design | jobs | jobs/s | lease round trips/job | SQL statements/job | evalsha/job | " +
		"CPU µs/job total | rtmanager | PostgreSQL | Redis |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		w("| %d | %s | %s | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", r.Round, r.Variant, r.Result.Kind,
			r.Result.PerSecond(), r.LeaseRT, r.Stmts, r.RedisCmds["evalsha"], r.perJob(r.Result.CPU.Total()),
			r.perJob(r.Result.CPU.Bench), r.perJob(r.Result.CPU.Postgres), r.perJob(r.Result.CPU.Redis))
	}
	w("\n")
}

// redisCalls returns the calls of each command the stack's redis-server
// counted so far (INFO commandstats; a script counts as evalsha).
func redisCalls(t *testing.T, s *stack) map[string]int64 {
	rc := rawRedis(t, s.redisSrv.URL)
	info, err := rc.Do(context.Background(), rc.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`cmdstat_([a-z|]+):calls=(\d+)`)
	out := map[string]int64{}
	for _, m := range re.FindAllStringSubmatch(info, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = n
	}
	return out
}

// perJob returns d per job in microseconds.
func perJob(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(max(n, 1)) }
