//go:build bench

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
)

// TestP2Compare measures P2 with the hot statements as cached prepared
// plans (the default) and as bun's interpolated simple-protocol queries
// (sqlstore.Config.Interpolate), alternating (two stacks, so pools of 20
// each), next to pgbench -N, and logs
// ops/s, statements per operation and CPU per operation of each. Run it
// alone: go test -tags bench -run TestP2Compare -v ./e2e/bench.
func TestP2Compare(t *testing.T) {
	stacks := map[string]*stack{
		"interpolated": newStackConfig(t, nil, sqlstore.Config{Interpolate: true, MaxConns: 20}),
		"cached plans": newStackConfig(t, nil, sqlstore.Config{MaxConns: 20}),
	}
	const c, d, rounds = 8, 4 * time.Second, 3
	t.Logf("pgbench -N -c 8 -j 2 -T 5: %s TPS", pgbench(t))
	for round := range rounds {
		for _, name := range []string{"interpolated", "cached plans"} {
			s := stacks[name]
			if round%2 == 1 { // alternate the order between rounds
				name = map[string]string{"interpolated": "cached plans", "cached plans": "interpolated"}[name]
				s = stacks[name]
			}
			s.timings.reset()
			m := s.meter(t)
			r := measureOps(t, s, c, 4, d)
			u := m.stop(t)
			// One SQL statement per store call on the success path, one
			// Redis round trip per lease or health call.
			stmts := s.timings.perOp(r.Ops, "records.", "oplog.", "snapshot.")
			trips := s.timings.perOp(r.Ops, "lease.", "health.")
			per := func(x time.Duration) string { return fmt.Sprintf("%.0f", float64(x.Microseconds())/float64(r.Ops)) }
			t.Logf("round %d %-12s c=%d: %6.0f ops/s, %d failures, %.2f statements/op, %.2f Redis calls/op, CPU µs/op total %s (bench %s, PostgreSQL %s, Redis %s)",
				round+1, name, c, r.PerSecond(), r.Failures, stmts, trips, per(u.Total()), per(u.Bench), per(u.Postgres), per(u.Redis))
		}
	}
	t.Logf("pgbench -N -c 8 -j 2 -T 5: %s TPS", pgbench(t))
}
