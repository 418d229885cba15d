//go:build bench

package bench

import (
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
)

// p2Variant is one P2 design measured side by side with the others.
type p2Variant struct {
	name   string
	cfg    sqlstore.Config
	writes writes
}

// p2Variants are the designs TestP2Compare measures: bun's interpolated
// statements with the record swap and the audit append apart (the design
// before issue 17), cached prepared plans for the hot statements, cached
// plans with the last swap and the audit entry in one statement
// (ports.SwapAppender), that statement carrying a start's health snapshot
// too (ports.SwapSnapshotter), and a start's health event sent with the
// lease release (ports.PublishReleaser; the default). Pools of 8 (+4
// best-effort) keep five stacks under the server's connection limit.
var p2Variants = []p2Variant{
	{"interpolated", sqlstore.Config{Interpolate: true, MaxConns: 8}, writesApart},
	{"cached plans", sqlstore.Config{MaxConns: 8}, writesApart},
	{"cached+swapappend", sqlstore.Config{MaxConns: 8}, writesSwapAppend},
	{"+snapshot", sqlstore.Config{MaxConns: 8}, writesSwapSnapshot},
	{"+publish-release", sqlstore.Config{MaxConns: 8}, writesPublishRelease},
}

// p2Row is one measurement of compareP2.
type p2Row struct {
	Round        int
	Variant      string
	PgbenchTPS   float64
	Result       opsResult
	CPU          cpuUse
	Stmts, Redis float64 // per operation
	ratioPgbench float64
}

// compareP2 measures P2 (concurrency c) for each of p2Variants, rotating
// their order every round, each round right after a pgbench -N run.
func compareP2(t *testing.T, c, rounds int, d time.Duration) []p2Row {
	stacks := make([]*stack, len(p2Variants))
	for i, v := range p2Variants {
		stacks[i] = newStackConfig(t, nil, v.cfg, v.writes)
	}
	pgb := pgbenchDB(t)
	var rows []p2Row
	for round := range rounds {
		tps := pgbenchRun(t, pgb, int(d/time.Second))
		for k := range p2Variants {
			i := (k + round) % len(p2Variants)
			s := stacks[i]
			s.timings.reset()
			m := s.meter(t)
			r := measureOps(t, s, c, 4, d)
			row := p2Row{Round: round + 1, Variant: p2Variants[i].name, PgbenchTPS: tps, Result: r, CPU: m.stop(t),
				// One SQL statement per store call on the success path,
				// one Redis round trip per lease or health call.
				Stmts: s.timings.perOp(r.Ops, "records.", "oplog.", "snapshot."),
				Redis: s.timings.perOp(r.Ops, "lease.", "health.")}
			row.ratioPgbench = r.PerSecond() / tps
			rows = append(rows, row)
		}
	}
	return rows
}

// perOp returns d per operation of r in microseconds.
func (r p2Row) perOp(d time.Duration) float64 {
	return float64(d.Microseconds()) / float64(max(r.Result.Ops, 1))
}

// TestP2Compare logs compareP2 at concurrency 8, 3 rounds of 4 s. Run it
// alone: go test -tags bench -run TestP2Compare -v ./e2e/bench.
func TestP2Compare(t *testing.T) {
	for _, r := range compareP2(t, 8, 3, 4*time.Second) {
		t.Logf("round %d %-18s c=8: pgbench %.0f TPS, %6.0f ops/s = %.2f×, %d failures, %.2f statements/op, %.2f Redis calls/op, "+
			"CPU µs/op total %.0f (bench %.0f, PostgreSQL %.0f, Redis %.0f)", r.Round, r.Variant, r.PgbenchTPS,
			r.Result.PerSecond(), r.ratioPgbench, r.Result.Failures, r.Stmts, r.Redis, r.perOp(r.CPU.Total()),
			r.perOp(r.CPU.Bench), r.perOp(r.CPU.Postgres), r.perOp(r.CPU.Redis))
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
