package check

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ruleFile is the part of a Prometheus rule file the checks read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// loadRules reads deploy/prometheus/rules.yml.
func loadRules(t *testing.T) ruleFile {
	t.Helper()
	data, err := os.ReadFile(repoPath("deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatalf("rules.yml: %v", err)
	}
	return rf
}

// recordingRules returns the names rules.yml records.
func recordingRules(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out[r.Record] = true
			}
		}
	}
	return out
}

// TestRulesNameExportedSeries checks that every expression of rules.yml
// reads only series rtmanager exports, its own recording rules, or up
// (promtool checks syntax and behaviour, not that the series exist).
func TestRulesNameExportedSeries(t *testing.T) {
	rf := loadRules(t)
	recorded := recordingRules(t)
	names := exported(t)
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			checkNames(t, g.Name+"/"+r.Record+r.Alert, r.Expr, names, recorded)
		}
	}
	if n == 0 {
		t.Fatal("rules.yml has no rules")
	}
}

// TestAlertsHaveRunbooks checks that every alert has a severity, a summary
// and a runbook_url whose anchor is a "### <alert>" section of
// docs/deploy.md, and that every such section is an alert of rules.yml.
func TestAlertsHaveRunbooks(t *testing.T) {
	doc, err := os.ReadFile(repoPath("docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if name, ok := strings.CutPrefix(line, "### "); ok && strings.HasPrefix(name, "Rtmanager") {
			sections[name] = true
		}
	}
	alerts := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			want := runbookBase + strings.ToLower(r.Alert)
			if r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !sections[r.Alert] {
				t.Errorf("%s: docs/deploy.md has no section \"### %s\"", r.Alert, r.Alert)
			}
		}
	}
	for s := range sections {
		if !alerts[s] {
			t.Errorf("docs/deploy.md documents %s, which rules.yml does not define", s)
		}
	}
}

// runbookBase is where the alerts' runbook lines live.
const runbookBase = "https://github.com/galaxy-game/rtmanager/blob/main/docs/deploy.md#"
