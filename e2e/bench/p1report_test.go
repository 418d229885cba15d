//go:build bench

package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestP1 runs P1 alone ($BENCH_P1_ROUNDS rounds, default 25) and logs its
// report section; TestReport runs it with the others.
// $BENCH_P1_ENGINE_START_DELAY (a Go duration) makes every variant's engine
// listen that long after it starts.
func TestP1(t *testing.T) {
	if d := os.Getenv("BENCH_P1_ENGINE_START_DELAY"); d != "" {
		if _, err := time.ParseDuration(d); err != nil {
			t.Fatalf("BENCH_P1_ENGINE_START_DELAY=%q: %v", d, err)
		}
		p1EngineDelay = d
		defer func() { p1EngineDelay = "" }()
		t.Logf("engines listen %s after they start", d)
	}
	n := 25
	if s := os.Getenv("BENCH_P1_ROUNDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("BENCH_P1_ROUNDS=%q: want a positive integer", s)
		}
	}
	t.Log("\n" + p1Section(measureP1(t, n)))
}

// ratios returns the per-pair ratios a[i]/b[i].
func ratios(a, b []time.Duration) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = float64(a[i]) / float64(b[i])
	}
	return out
}

// medianRatio is the median of the per-pair ratios a[i]/b[i].
func medianRatio(a, b []time.Duration) float64 {
	rs := ratios(a, b)
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = time.Duration(r * 1e6)
	}
	return float64(median(ds)) / 1e6
}

// p1Ratios returns P1's ratio of medians and median of per-pair ratios.
func (r p1Result) ratios() (ofMedians, perPair float64) {
	return float64(median(r.REST)) / float64(median(r.Raw)), medianRatio(r.REST, r.Raw)
}

// p1Section renders the P1 section of the report.
func p1Section(p1 p1Result) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	variants := "the variants in an order rotated every round"
	w("## P1: one game through REST vs raw Docker\n\n")
	w("Method: %d rounds (after one warm-up round), %s. REST = `POST …/start` (returns when the engine answers "+
		"`/healthz`), `POST …/stop`, `DELETE …` against one `rtmanager serve` (PostgreSQL, a private redis-server, Docker "+
		"driver, defaults otherwise, spans exported to an in-process OTLP collector). Raw = the same Docker Engine API "+
		"calls with the moby client (create with the same hardening and limits, start, inspect for the port, poll "+
		"`/healthz` every %s, stop with 10 s grace, remove). rtmanager probes readiness at once, then after pauses of 5, 10, 20 ms "+
		"and every 50 ms from then on.", len(p1.REST), variants, readyPoll)
	w(" Raw on rtmanager's network = the raw cycle with the container on the engine network rtmanager uses " +
		"(`rtmanager`, a bridge with inter-container traffic off, SPEC §11) instead of Docker's default bridge. Driver alone = rtmanager's Docker driver called in the benchmark " +
		"process with the spec a start gives it (Start, the raw readiness poll, Stop, Remove): no REST, store or lease.")
	if len(p1.Base) > 0 {
		w(" Baseline = the same REST cycle against a binary built from the commit before issue 17's P1 work " +
			"(`$BENCH_P1_BASELINE_BIN`).")
	}
	if p1EngineDelay != "" {
		w(" Every engine was told to listen only %s after it starts (ENGINE_START_DELAY).", p1EngineDelay)
	}
	w("\n\n| | median | min | max |\n|---|---:|---:|---:|\n")
	row := func(name string, ds []time.Duration) {
		if len(ds) > 0 {
			w("| %s | %s | %s | %s |\n", name, ms(median(ds)), ms(percentile(ds, 0)), ms(percentile(ds, 1)))
		}
	}
	row("REST", p1.REST)
	row("raw Docker", p1.Raw)
	row("REST, baseline binary", p1.Base)
	row("raw Docker on rtmanager's network", p1.RawNet)
	row("Docker driver alone", p1.Driver)
	om, pp := p1.ratios()
	w("\n| ratio to raw Docker | of medians | median of per-pair ratios |\n|---|---:|---:|\n")
	w("| REST | %.3f× | %.3f× |\n", om, pp)
	if len(p1.Base) > 0 {
		w("| REST, baseline binary | %.3f× | %.3f× |\n", float64(median(p1.Base))/float64(median(p1.Raw)), medianRatio(p1.Base, p1.Raw))
		w("| REST / baseline | %.3f× | %.3f× |\n", float64(median(p1.REST))/float64(median(p1.Base)), medianRatio(p1.REST, p1.Base))
	}
	if len(p1.RawNet) > 0 {
		w("| raw Docker on rtmanager's network | %.3f× | %.3f× |\n", float64(median(p1.RawNet))/float64(median(p1.Raw)), medianRatio(p1.RawNet, p1.Raw))
		w("| REST / raw Docker on rtmanager's network | %.3f× | %.3f× |\n", float64(median(p1.REST))/float64(median(p1.RawNet)), medianRatio(p1.REST, p1.RawNet))
	}
	if len(p1.Driver) > 0 {
		w("| Docker driver alone | %.3f× | %.3f× |\n", float64(median(p1.Driver))/float64(median(p1.Raw)), medianRatio(p1.Driver, p1.Raw))
		w("| REST / Docker driver alone | %.3f× | %.3f× |\n", float64(median(p1.REST))/float64(median(p1.Driver)), medianRatio(p1.REST, p1.Driver))
	}
	w("\nWhere the time goes (medians per phase; REST phases from the operation's spans, raw phases from timers " +
		"around the moby calls; a phase's medians do not add up to the total's):\n\n")
	cols := []string{"rest", "raw", "rawnet", "driver"}
	w("| phase | REST | raw | raw, rtmanager's network | driver alone")
	if len(p1.Base) > 0 {
		cols = append(cols, "base")
		w(" | baseline")
	}
	w(" |\n|---|---:|---:%s|\n", strings.Repeat("|---:", len(cols)-2))
	for _, ph := range p1PhaseOrder {
		w("| %s", ph)
		for _, c := range cols {
			if ds := p1.Phases[c][ph]; len(ds) > 0 {
				w(" | %s", ms(median(ds)))
			} else {
				w(" | –")
			}
		}
		w(" |\n")
	}
	w("\n")
	return b.String()
}
