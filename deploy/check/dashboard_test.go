package check

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard model the checks read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []target                 `json:"targets"`
	Panels     []panel                  `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
}

// grafanaVars are the Grafana variables expressions may use, with the
// value substituted before parsing.
var grafanaVars = map[string]string{
	"$__rate_interval": "5m",
	"$__interval":      "1m",
	"$__range":         "6h",
	"$job":             "rtmanager",
}

// labelValues matches a Grafana label_values(expr, label) query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// substitute replaces Grafana variables; an unknown one is an error.
func substitute(expr string) (string, error) {
	for _, k := range []string{"$__rate_interval", "$__interval", "$__range", "$job"} {
		expr = strings.ReplaceAll(expr, k, grafanaVars[k])
	}
	if i := strings.IndexByte(expr, '$'); i >= 0 {
		return "", fmt.Errorf("unknown Grafana variable at %q", expr[i:])
	}
	return expr, nil
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(repoPath("deploy", "grafana", "rtmanager.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("rtmanager.json is not a JSON object: %v", err)
	}
	return d
}

// flatten returns every panel, the panels of collapsed rows included.
func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// TestDashboardModel checks the basics Grafana needs to import the
// dashboard and that it covers what operators look at.
func TestDashboardModel(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" || len(d.UID) > 40 {
		t.Errorf("title %q, uid %q: want both, uid at most 40 characters", d.Title, d.UID)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want >= 36 (datasource references by uid)", d.SchemaVersion)
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("templating: want a datasource variable of type prometheus, got %+v", v)
	}
	if _, ok := vars["job"]; !ok {
		t.Error("templating: want a job variable")
	}
	ids := map[int]string{}
	titles := map[string]bool{}
	for _, p := range flatten(d.Panels) {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
			t.Errorf("%s: id not unique and positive (also %q)", where, prev)
		}
		ids[p.ID] = p.Title
		titles[p.Title] = true
		if p.Type == "" || p.Title == "" {
			t.Errorf("%s: want a type and a title", where)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", where, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: datasource %+v, want prometheus ${datasource}", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no targets", where)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] || strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: target %+v: want a unique refId and an expr", where, tg)
			}
			refs[tg.RefID] = true
		}
	}
	for _, want := range []string{"Operations rate by kind", "Errors by kind and code",
		"Operation latency p95 by kind", "Runtimes by status", "Stream pending", "Restarts",
		"Driver call latency p95 by call"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}

// TestDashboardQueries parses every PromQL expression of the dashboard
// (panel targets and the label_values variable queries) with the
// Prometheus parser and checks it names only series rtmanager exports.
func TestDashboardQueries(t *testing.T) {
	d := loadDashboard(t)
	names := exported(t)
	recorded := recordingRules(t)
	n := 0
	for _, p := range flatten(d.Panels) {
		for _, tg := range p.Targets {
			n++
			where := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
			expr, err := substitute(tg.Expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			checkNames(t, where, expr, names, recorded)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		n++
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: definition %q is not label_values(expr, label)", v.Name, v.Definition)
			continue
		}
		checkNames(t, "variable "+v.Name, m[1], names, recorded)
	}
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
}

// TestSeriesNamesCatchesMistakes guards the checker itself: a misspelt
// metric, a bad expression and an unknown Grafana variable are caught.
func TestSeriesNamesCatchesMistakes(t *testing.T) {
	got, err := seriesNames(`sum by (op_kind) (rate(rtmanager_operations_total[5m])) / on() group_left up`)
	if err != nil || strings.Join(got, ",") != "rtmanager_operations_total,up" {
		t.Errorf("seriesNames = %v, %v", got, err)
	}
	if _, err := seriesNames(`rate(rtmanager_operations_total[5m]`); err == nil {
		t.Error("an unbalanced expression parsed")
	}
	if _, err := seriesNames(`{op_kind="start"}`); err == nil {
		t.Error("a selector without a metric name passed")
	}
	if _, err := substitute(`rate(x[$__rate_interval]) * $unknown`); err == nil {
		t.Error("an unknown Grafana variable passed")
	}
	exported := map[string]bool{"rtmanager_operations_total": true}
	for expr, ok := range map[string]bool{
		`rtmanager_operations_total`:  true,
		`up`:                          true,
		`rtmanager_operatons_total`:   false,
		`rtmanager_crash_loops_total`: false,
		`job:recorded:rate5m`:         true,
		`histogram_quantile(0.9, rtmanager_x_bucket)`: false,
	} {
		names, err := seriesNames(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		allowed := true
		for _, n := range names {
			allowed = allowed && (exported[n] || n == "job:recorded:rate5m" || prometheusSeries[n])
		}
		if allowed != ok {
			t.Errorf("%s: allowed %v, want %v", expr, allowed, ok)
		}
	}
}
