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

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
)

// TestP3Compare measures P3 (stop and start jobs through the ingress) with
// the hot statements as cached prepared plans (the default) and as bun's
// interpolated queries, alternating (two stacks, so pools of 20 each), and logs jobs/s and CPU per job. Run
// it alone: go test -tags bench -run TestP3Compare -v ./e2e/bench.
func TestP3Compare(t *testing.T) {
	stacks := map[string]*stack{
		"interpolated": newStackConfig(t, nil, sqlstore.Config{Interpolate: true, MaxConns: 20}, false),
		"cached plans": newStackConfig(t, nil, sqlstore.Config{MaxConns: 20}, false),
	}
	order := []string{"interpolated", "cached plans"}
	for round := range 2 {
		for _, name := range order {
			for _, job := range []struct {
				kind string
				n    int
			}{{"stop", 5000}, {"start", 2000}} {
				before := redisCalls(t, stacks[name])
				r := measureStream(t, stacks[name], job.kind, job.n, 32)
				calls := redisCalls(t, stacks[name])
				var per []string
				for cmd, n := range calls {
					if d := n - before[cmd]; d > 0 && cmd != "info" {
						per = append(per, fmt.Sprintf("%s %.2f", cmd, float64(d)/float64(r.Jobs)))
					}
				}
				sort.Strings(per)
				t.Logf("round %d %-12s %s: Redis calls/job: %s", round+1, name, job.kind, strings.Join(per, ", "))
				t.Logf("round %d %-12s %s: %5.0f jobs/s, CPU µs/job total %.0f (bench %.0f, PostgreSQL %.0f, Redis %.0f)",
					round+1, name, job.kind, r.PerSecond(), perJob(r.CPU.Total(), r.Jobs), perJob(r.CPU.Bench, r.Jobs),
					perJob(r.CPU.Postgres, r.Jobs), perJob(r.CPU.Redis, r.Jobs))
			}
		}
		order[0], order[1] = order[1], order[0]
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
