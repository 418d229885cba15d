//go:build bench

package bench

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestP3Compare measures P3 (stop and start jobs through the ingress, 32 at
// once) for each of p2Variants, rotating their order, and logs jobs/s,
// Redis calls per job (INFO commandstats) and CPU per job. Run
// it alone: go test -tags bench -run TestP3Compare -v ./e2e/bench.
func TestP3Compare(t *testing.T) {
	stacks := make([]*stack, len(p2Variants))
	for i, v := range p2Variants {
		stacks[i] = newStackConfig(t, nil, v.cfg, v.writes)
	}
	for round := range 2 {
		for k := range p2Variants {
			i := (k + round) % len(p2Variants)
			name, s := p2Variants[i].name, stacks[i]
			for _, job := range []struct {
				kind string
				n    int
			}{{"stop", 5000}, {"start", 2000}} {
				before := redisCalls(t, s)
				r := measureStream(t, s, job.kind, job.n, 32)
				calls := redisCalls(t, s)
				var per []string
				for cmd, n := range calls {
					if d := n - before[cmd]; d > 0 && cmd != "info" {
						per = append(per, fmt.Sprintf("%s %.2f", cmd, float64(d)/float64(r.Jobs)))
					}
				}
				sort.Strings(per)
				t.Logf("round %d %-17s %s: Redis calls/job: %s", round+1, name, job.kind, strings.Join(per, ", "))
				t.Logf("round %d %-17s %s: %5.0f jobs/s, CPU µs/job total %.0f (bench %.0f, PostgreSQL %.0f, Redis %.0f)",
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
