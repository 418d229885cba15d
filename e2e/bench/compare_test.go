//go:build bench

package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
)

// p2Variant is one P2 design measured side by side with the others.
type p2Variant struct {
	name       string
	cfg        sqlstore.Config
	swapAppend bool
}

// p2Variants are the designs TestP2Compare measures: bun's interpolated
// statements with the record swap and the audit append apart (the design
// before issue 17), cached prepared plans for the hot statements, and
// cached plans with the last swap and the audit entry in one statement
// (ports.SwapAppender; the default). Pools of 12 (+6 best-effort) keep
// three stacks under the server's connection limit.
var p2Variants = []p2Variant{
	{"interpolated", sqlstore.Config{Interpolate: true, MaxConns: 12}, false},
	{"cached plans", sqlstore.Config{MaxConns: 12}, false},
	{"cached+swapappend", sqlstore.Config{MaxConns: 12}, true},
}

// TestP2Compare measures P2 (concurrency 8) for each of p2Variants,
// rotating their order every round, next to pgbench -N at the start of every round,
// and logs ops/s, statements and Redis calls per operation, and CPU per
// operation of each. Run it alone:
// go test -tags bench -run TestP2Compare -v ./e2e/bench.
func TestP2Compare(t *testing.T) {
	stacks := make([]*stack, len(p2Variants))
	for i, v := range p2Variants {
		stacks[i] = newStackConfig(t, nil, v.cfg, v.swapAppend)
	}
	const c, d, rounds = 8, 4 * time.Second, 3
	pgb := pgbenchDB(t)
	for round := range rounds {
		tps := pgbenchRun(t, pgb, 4)
		t.Logf("round %d pgbench -N -c 8 -j 2 -T 4: %.0f TPS", round+1, tps)
		for k := range p2Variants {
			i := (k + round) % len(p2Variants)
			v, s := p2Variants[i], stacks[i]
			s.timings.reset()
			m := s.meter(t)
			r := measureOps(t, s, c, 4, d)
			u := m.stop(t)
			// One SQL statement per store call on the success path, one
			// Redis round trip per lease or health call.
			stmts := s.timings.perOp(r.Ops, "records.", "oplog.", "snapshot.")
			trips := s.timings.perOp(r.Ops, "lease.", "health.")
			per := func(x time.Duration) string { return fmt.Sprintf("%.0f", float64(x.Microseconds())/float64(r.Ops)) }
			t.Logf("round %d %-17s c=%d: %6.0f ops/s = %.2f× pgbench, %d failures, %.2f statements/op, %.2f Redis calls/op, CPU µs/op total %s (bench %s, PostgreSQL %s, Redis %s)",
				round+1, v.name, c, r.PerSecond(), r.PerSecond()/tps, r.Failures, stmts, trips, per(u.Total()), per(u.Bench), per(u.Postgres), per(u.Redis))
		}
	}
}

// TestP2Concurrency measures P2 of the default design (newStack: cached
// plans, SwapAppend, pool of 40) at concurrency 8, 16 and 32, each right
// after a pgbench -N run, for two rounds. Run it alone:
// go test -tags bench -run TestP2Concurrency -v ./e2e/bench.
func TestP2Concurrency(t *testing.T) {
	s := newStack(t, nil)
	pgb := pgbenchDB(t)
	for round := range 2 {
		for _, c := range []int{8, 16, 32} {
			tps := pgbenchRun(t, pgb, 4)
			m := s.meter(t)
			r := measureOps(t, s, c, 4, 4*time.Second)
			u := m.stop(t)
			t.Logf("round %d c=%d: pgbench %.0f TPS, P2 %.0f ops/s = %.2f×, %d failures, CPU µs/op %.0f",
				round+1, c, tps, r.PerSecond(), r.PerSecond()/tps, r.Failures, float64(u.Total().Microseconds())/float64(r.Ops))
		}
	}
}
