package check

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// ruleFile is the part of a Prometheus rule file the checks read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
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
