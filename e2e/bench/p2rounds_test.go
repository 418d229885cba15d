//go:build bench

package bench

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// p2Concurrencies are the concurrencies P2 is measured at.
var p2Concurrencies = []int{8, 16, 32, 64}

// p2Run is one P2 measurement of a round and its ratio to the round's
// pgbench -N run.
type p2Run struct {
	Round int
	opsResult
	PgbenchTPS float64
	CPU        cpuUse
}

// Ratio is the run's ops/s over the round's pgbench TPS.
func (r p2Run) Ratio() float64 { return r.PerSecond() / r.PgbenchTPS }

// p2Rounds is what measureP2Rounds measured.
type p2Rounds struct {
	Runs []p2Run
	// Best is the concurrency with the highest median ratio.
	Best int
	// CPU and Table are the CPU use and port-call table summed over the
	// runs at concurrency Best; Ops their operations.
	CPU   cpuUse
	Table string
	Ops   int64
}

// measureP2Rounds measures P2 on s in rounds: each round one pgbench -N
// run of d and one P2 run of d at each of p2Concurrencies, pgbench first in
// odd rounds and last in even ones, so drift in the machine's other load
// weighs on both sides alike. Every P2 run is compared with its round's
// pgbench run; the median over rounds is the figure, and every round is
// kept so the noise stays visible.
func measureP2Rounds(t *testing.T, s *stack, pgb string, rounds int, d time.Duration) p2Rounds {
	var out p2Rounds
	calls := map[int]*timings{}
	for _, c := range p2Concurrencies {
		calls[c] = newTimings()
	}
	for round := 1; round <= rounds; round++ {
		var tps float64
		if round%2 == 1 {
			tps = pgbenchRun(t, pgb, int(d/time.Second))
		}
		var runs []p2Run
		for _, c := range p2Concurrencies {
			s.timings.reset()
			m := s.meter(t)
			r := measureOps(t, s, c, 4, d)
			runs = append(runs, p2Run{Round: round, opsResult: r, CPU: m.stop(t)})
			s.timings.drainInto(calls[c])
		}
		if round%2 == 0 {
			tps = pgbenchRun(t, pgb, int(d/time.Second))
		}
		for _, r := range runs {
			r.PgbenchTPS = tps
			out.Runs = append(out.Runs, r)
			t.Logf("P2 round %d c=%d: %.0f ops/s, pgbench %.0f TPS, %.2f×, %d failures", round, r.Concurrency,
				r.PerSecond(), tps, r.Ratio(), r.Failures)
		}
	}
	bestRatio := 0.0
	for _, c := range p2Concurrencies {
		if m := out.median(c, p2Run.Ratio); m > bestRatio {
			out.Best, bestRatio = c, m
		}
	}
	for _, r := range out.Runs {
		if r.Concurrency == out.Best {
			out.CPU.Bench += r.CPU.Bench
			out.CPU.Postgres += r.CPU.Postgres
			out.CPU.Redis += r.CPU.Redis
			out.Ops += r.Ops
		}
	}
	out.Table = calls[out.Best].table(out.Ops)
	return out
}

// median returns the median of f over the runs at concurrency c.
func (p p2Rounds) median(c int, f func(p2Run) float64) float64 {
	var vs []float64
	for _, r := range p.Runs {
		if r.Concurrency == c {
			vs = append(vs, f(r))
		}
	}
	if len(vs) == 0 {
		return 0
	}
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// Ratio is the median ratio at the best concurrency.
func (p p2Rounds) Ratio() float64 { return p.median(p.Best, p2Run.Ratio) }

// Summary is the summary table's measured cell.
func (p p2Rounds) Summary() string {
	return fmt.Sprintf("%.2f× pgbench -N (%.0f vs %.0f TPS, medians of %d rounds, concurrency %d)", p.Ratio(),
		p.median(p.Best, p2Run.PerSecond), p.median(p.Best, func(r p2Run) float64 { return r.PgbenchTPS }),
		p.rounds(), p.Best)
}

func (p p2Rounds) rounds() int {
	n := 0
	for _, r := range p.Runs {
		n = max(n, r.Round)
	}
	return n
}

// CPUPerOp returns the CPU per operation at concurrency Best.
func (p p2Rounds) CPUPerOp() (total, bench, pg, redis time.Duration) {
	n := time.Duration(max(p.Ops, 1))
	return p.CPU.Total() / n, p.CPU.Bench / n, p.CPU.Postgres / n, p.CPU.Redis / n
}

// Tables renders the per-concurrency medians and every round.
func (p p2Rounds) Tables() string {
	var b strings.Builder
	b.WriteString("| concurrency | median ops/s | median × pgbench | min × | max × | failures |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range p2Concurrencies {
		lo, hi, fails := 0.0, 0.0, int64(0)
		for _, r := range p.Runs {
			if r.Concurrency != c {
				continue
			}
			if lo == 0 || r.Ratio() < lo {
				lo = r.Ratio()
			}
			hi, fails = max(hi, r.Ratio()), fails+r.Failures
		}
		fmt.Fprintf(&b, "| %d | %.0f | %.2f× | %.2f× | %.2f× | %d |\n", c, p.median(c, p2Run.PerSecond),
			p.median(c, p2Run.Ratio), lo, hi, fails)
	}
	b.WriteString("\nEvery round (pgbench -N TPS, then ops/s and × pgbench at each concurrency):\n\n| round | pgbench TPS |")
	for _, c := range p2Concurrencies {
		fmt.Fprintf(&b, " c=%d |", c)
	}
	b.WriteString("\n|---:|---:|" + strings.Repeat("---:|", len(p2Concurrencies)) + "\n")
	for round := 1; round <= p.rounds(); round++ {
		var cells []string
		tps := 0.0
		for _, r := range p.Runs {
			if r.Round == round {
				tps = r.PgbenchTPS
				cells = append(cells, fmt.Sprintf("%.0f (%.2f×)", r.PerSecond(), r.Ratio()))
			}
		}
		fmt.Fprintf(&b, "| %d | %.0f | %s |\n", round, tps, strings.Join(cells, " | "))
	}
	return b.String()
}

// TestP2Rounds logs measureP2Rounds of the default design: 5 rounds of
// 3 s. Run it alone: go test -tags bench -run TestP2Rounds -v ./e2e/bench.
func TestP2Rounds(t *testing.T) {
	p := measureP2Rounds(t, newStack(t, nil), pgbenchDB(t), 5, 3*time.Second)
	total, bench, pg, redis := p.CPUPerOp()
	t.Logf("P2: %s; CPU per op at c=%d: %v (rtmanager %v, PostgreSQL %v, Redis %v)\n%s\n%s", p.Summary(),
		p.Best, total, bench, pg, redis, p.Tables(), p.Table)
}
