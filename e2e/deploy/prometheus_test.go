//go:build e2e

package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// promtool returns the path of promtool (Debian package prometheus).
func promtool(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Missing(tb, "promtool (apt-get install prometheus): %v", err)
	}
	return p
}

// TestPromtoolRules checks deploy/prometheus/rules.yml and runs its unit
// tests with promtool.
func TestPromtoolRules(t *testing.T) {
	tool := promtool(t)
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestPrometheusScrapesRtmanager runs a real Prometheus server (loopback
// only, its own data dir, the shipped rules loaded) scraping a real
// rtmanager, starts and stops games, and reads rtmanager_operations_total
// and a recording rule back through the Prometheus HTTP API.
func TestPrometheusScrapesRtmanager(t *testing.T) {
	promtool(t)
	server, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Missing(t, "prometheus (apt-get install prometheus): %v", err)
	}
	testenv.DockerHost(t)
	engine := testenv.EngineImage(t)
	scope := "prom" + testenv.RandomSuffix(4) // RTMANAGER_SCOPE is [a-z0-9]{1,20}
	inst := harness.Start(t, harness.Options{Env: map[string]string{"RTMANAGER_SCOPE": scope}})
	t.Cleanup(func() {
		if ids, _ := run("docker", "ps", "-aq", "--filter", "label=rtmanager.scope="+scope); ids != "" {
			_, _ = run("docker", append([]string{"rm", "-f"}, splitFields(ids)...)...)
		}
	})
	prom := startPrometheus(t, server, inst.Addr)

	// Prometheus sees the target up before the first operation, so the
	// counters' first samples are scraped and their rates become visible.
	prom.eventually(t, `up{job="rtmanager"} == 1`, 1)
	op := func(game, kind string, body any) {
		t.Helper()
		if st, res := inst.Op(game, kind, body); st != http.StatusOK || res["outcome"] != "success" {
			t.Fatalf("%s %s = %d %v", kind, game, st, res)
		}
	}
	g1, g2 := harness.GameID("prom"), harness.GameID("prom")
	op(g1, "start", map[string]any{"image_ref": engine})
	prom.eventually(t, `sum(rtmanager_operations_total{job="rtmanager",op_kind="start",outcome="success"})`, 1)
	op(g1, "stop", map[string]any{"reason": "game_finished"})
	op(g2, "start", map[string]any{"image_ref": engine})
	op(g2, "stop", map[string]any{"reason": "game_finished"})
	prom.eventually(t, `sum(rtmanager_operations_total{job="rtmanager",op_kind="start",outcome="success"})`, 2)
	prom.eventually(t, `sum(rtmanager_operations_total{job="rtmanager",op_kind="stop",outcome="success",op_source="rest"})`, 2)
	// The shipped recording rules run in the server and see the starts.
	prom.eventually(t, `sum(job_op_kind_outcome_error_code:rtmanager_operations:rate5m{job="rtmanager",op_kind="start",outcome="success"}) > bool 0`, 1)
	prom.eventually(t, `job_status:rtmanager_runtimes:max{job="rtmanager",status="stopped"}`, 2)
	prom.rulesHealthy(t)
}

// prometheus is a running Prometheus server.
type prometheus struct {
	base string
}

// startPrometheus starts server with a configuration scraping target every
// second and loading deploy/prometheus/rules.yml, and waits until ready.
// It is stopped (SIGTERM, by pid) when t ends.
func startPrometheus(t *testing.T, server, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules := filepath.Join(repoRoot(t), "deploy", "prometheus", "rules.yml")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: rtmanager
    static_configs:
      - targets: [%q]
`, rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := harness.FreeAddr(t)
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	logText := func() string { b, _ := os.ReadFile(logs.Name()); return string(b) }
	cmd := exec.Command(server, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=1h")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logText())
		}
	})
	p := &prometheus{base: "http://" + addr}
	harness.Eventually(t, 60*time.Second, "prometheus ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", logText())
		default:
		}
		st, _ := call(t, http.MethodGet, p.base+"/-/ready", nil)
		return st == http.StatusOK
	})
	return p
}

// query runs an instant query and returns the value of its only sample,
// ok false when the result is empty.
func (p *prometheus) query(t *testing.T, q string) (v float64, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: status %q %s (%v)", q, body.Status, body.Error, err)
	}
	switch len(body.Data.Result) {
	case 0:
		return 0, false
	case 1:
	default:
		t.Fatalf("query %s: %d samples, want one", q, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v: %v", q, body.Data.Result[0].Value, err)
	}
	return v, true
}

// eventually polls q until its only sample equals want.
func (p *prometheus) eventually(t *testing.T, q string, want float64) {
	t.Helper()
	var last any = "no sample"
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, ok := p.query(t, q)
		if ok && v == want {
			return
		}
		if ok {
			last = v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 60s, want %v", q, last, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rulesHealthy checks that the server loaded the shipped groups and
// evaluates every rule without error.
func (p *prometheus) rulesHealthy(t *testing.T) {
	t.Helper()
	st, body := call(t, http.MethodGet, p.base+"/api/v1/rules", nil)
	if st != http.StatusOK {
		t.Fatalf("rules API = %d", st)
	}
	data, _ := body["data"].(map[string]any)
	groups, _ := data["groups"].([]any)
	n := 0
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			n++
			if rule["health"] != "ok" {
				t.Errorf("rule %v: health %v %v", rule["name"], rule["health"], rule["lastError"])
			}
		}
	}
	if len(groups) != 2 || n < 10 {
		t.Errorf("prometheus loaded %d groups, %d rules; want the 2 groups of rules.yml", len(groups), n)
	}
}
