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
)

// p3Variants are the designs TestP3Compare measures, both on cached plans
// with the last swap and its audit entry in one statement (P2's default):
// per-call = every lease acquisition, lease release, audit append and job
// result is its own round trip (the design before batched ingress);
// batched = calls made at the same moment share one (ports.Coalescer over
// ports.LeaseBatcher, OperationLog.AppendOperations and
// ports.BatchCompleter; the default).
var p3Variants = []struct {
	name    string
	batched bool
}{
	{"per-call", false},
	{"batched", true},
}

// TestP3Compare measures P3 (stop and start jobs through the ingress, 32 at
// once) for each of p3Variants on its own stack, rotating their order
// every round, and logs jobs/s, Redis calls and SQL statements per job
// and CPU per job split by process. Run it alone:
// go test -tags bench -run TestP3Compare -v ./e2e/bench; P3_ROUNDS sets
// the rounds (default 3).
func TestP3Compare(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("P3_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	stacks := make([]*stack, len(p3Variants))
	for i, v := range p3Variants {
		stacks[i] = newStackBatch(t, nil, sqlstore.Config{MaxConns: 12}, true, v.batched)
	}
	for round := range rounds {
		for k := range p3Variants {
			i := (k + round) % len(p3Variants)
			name, s := p3Variants[i].name, stacks[i]
			for _, job := range []struct {
				kind string
				n    int
			}{{"stop", 5000}, {"start", 2000}} {
				before := redisCalls(t, s)
				s.timings.reset()
				r := measureStream(t, s, job.kind, job.n, 32)
				calls := redisCalls(t, s)
				var per []string
				var total int64
				for cmd, n := range calls {
					if d := n - before[cmd]; d > 0 && cmd != "info" && cmd != "xlen" {
						per = append(per, fmt.Sprintf("%s %.2f", cmd, float64(d)/float64(r.Jobs)))
						total += d
					}
				}
				sort.Strings(per)
				t.Logf("round %d %-9s %-5s: Redis commands/job %.2f, scripts' inner commands included (%s); "+
					"lease round trips/job %.2f; SQL statements/job %.2f (audit appends %.2f)",
					round+1, name, job.kind, float64(total)/float64(r.Jobs), strings.Join(per, ", "),
					s.timings.perOp(int64(r.Jobs), "lease."),
					s.timings.perOp(int64(r.Jobs), "records.", "oplog.", "snapshot."), s.timings.perOp(int64(r.Jobs), "oplog.Append"))
				t.Logf("round %d %-9s %-5s: %5.0f jobs/s, CPU µs/job total %.0f (rtmanager %.0f, PostgreSQL %.0f, Redis %.0f)",
					round+1, name, job.kind, r.PerSecond(), perJob(r.CPU.Total(), r.Jobs), perJob(r.CPU.Bench, r.Jobs),
					perJob(r.CPU.Postgres, r.Jobs), perJob(r.CPU.Redis, r.Jobs))
			}
		}
	}
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
