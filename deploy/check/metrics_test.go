package check

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/galaxy-game/rtmanager/adapters/telemetry"
	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// spec9 are the metric families SPEC §9 pins; the scraped instance must
// export all of them, or the scrape proves nothing.
var spec9 = []string{
	telemetry.MetricOperations,
	telemetry.MetricOperationDuration,
	telemetry.MetricLeaseAcquire,
	telemetry.MetricDriverCall,
	telemetry.MetricHealthEvents,
	telemetry.MetricStreamPending,
	telemetry.MetricRuntimes,
}

// prometheusSeries are the series Prometheus itself adds to every target.
var prometheusSeries = map[string]bool{"up": true}

// onEvent are counters rtmanager declares (adapters/telemetry) but exports
// only after their first event, which a healthy test instance never has:
// a recovered panic. They are named through telemetry's constants, so a
// misspelt name still fails the checks.
var onEvent = map[string]bool{telemetry.MetricPanics: true}

// TestMain runs the tests from the repository root: internal/testenv
// finds the engine sources through the go command's current module.
func TestMain(m *testing.M) {
	if err := os.Chdir(repoPath()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

var (
	exportedMu    sync.Mutex
	exportedNames map[string]bool
)

// exported returns the series names a real rtmanager exports at /metrics
// (histograms as their _bucket, _sum and _count series), scraped from an
// instance that started and stopped a game with the Docker driver. The
// first successful scrape is reused by later tests.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	exportedMu.Lock()
	defer exportedMu.Unlock()
	if exportedNames == nil {
		names, err := scrape(t)
		if err != nil {
			t.Fatal(err)
		}
		exportedNames = names
	}
	return exportedNames
}

func scrape(t *testing.T) (map[string]bool, error) {
	testenv.DockerHost(t)
	engine := testenv.EngineImage(t)
	scope := "check" + testenv.RandomSuffix(4) // RTMANAGER_SCOPE is [a-z0-9]{1,20}
	inst := harness.Start(t, harness.Options{Env: map[string]string{"RTMANAGER_SCOPE": scope}})
	game := harness.GameID("check")
	harness.RemoveDockerContainers(t, game)
	if st, res := inst.Op(game, "start", map[string]any{"image_ref": engine}); st != http.StatusOK {
		return nil, fmt.Errorf("start = %d %v", st, res)
	}
	if st, res := inst.Op(game, "stop", map[string]any{"reason": "game_finished"}); st != http.StatusOK {
		return nil, fmt.Errorf("stop = %d %v", st, res)
	}
	resp, err := http.Get(inst.URL("/metrics"))
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		}
	}
	var missing []string
	for _, n := range spec9 {
		if !names[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the running rtmanager does not export %v (exported: %v)", missing, sorted(names))
	}
	return names, nil
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// repoPath returns a path relative to the repository root.
func repoPath(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

var promql = parser.NewParser(parser.Options{})

// seriesNames parses expr with the Prometheus parser and returns the
// metric names its selectors name. A selector without a metric name is an
// error: every expression must say which series it reads.
func seriesNames(expr string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch v := n.(type) {
		case *parser.VectorSelector:
			if v.Name == "" {
				bad = fmt.Errorf("selector %s names no metric", v)
			}
			names = append(names, v.Name)
		}
		return nil
	})
	return names, bad
}

// checkNames fails t for every name in expr that is neither exported,
// a recording rule nor a Prometheus series.
func checkNames(t *testing.T, where, expr string, exported, recorded map[string]bool) {
	t.Helper()
	names, err := seriesNames(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return
	}
	if len(names) == 0 {
		t.Errorf("%s: %q reads no series", where, expr)
	}
	for _, n := range names {
		if !exported[n] && !recorded[n] && !prometheusSeries[n] && !onEvent[n] {
			t.Errorf("%s: %q reads %s, which rtmanager does not export (exported: %s)",
				where, expr, n, strings.Join(sorted(exported), ", "))
		}
	}
}
