package kubernetes

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestPodName(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{
		"rtm-abc-1", "rtm-ABC-1", "rtm-abc_1", "rtm-abc.1", "-x-", "Ω", "",
		"rtm-" + strings.Repeat("a", 64) + "-9999999", "rtm-" + strings.Repeat("a", 64) + "-9999998",
	} {
		got := PodName(name)
		if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
			t.Errorf("PodName(%q) = %q: %v", name, got, errs)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("PodName(%q) = PodName(%q) = %q", name, other, got)
		}
		seen[got] = name
	}
	if PodName("rtm-abc-1") != "rtm-abc-1" {
		t.Errorf("a valid name changed: %q", PodName("rtm-abc-1"))
	}
}

func TestLabels(t *testing.T) {
	in := map[string]string{"rtmanager.image_ref": "reg.example/x:1", "rtmanager.game_id": "g1", "bad key!": "v"}
	labels, ann, err := encodeLabels(in)
	if err != nil {
		t.Fatal(err)
	}
	if labels["rtmanager.game_id"] != "g1" || ann["rtmanager.image_ref"] != "reg.example/x:1" {
		t.Errorf("labels %v annotations %v", labels, ann)
	}
	if errs := validation.IsValidLabelValue(labels["rtmanager.image_ref"]); len(errs) > 0 {
		t.Errorf("label value %q: %v", labels["rtmanager.image_ref"], errs)
	}
	if _, ok := labels["bad key!"]; ok {
		t.Errorf("a key label syntax cannot hold became a label")
	}
	sel := selector(map[string]string{"rtmanager.image_ref": "reg.example/x:1"})
	if !strings.Contains(sel, "rtmanager.image_ref="+labels["rtmanager.image_ref"]) {
		t.Errorf("selector %q", sel)
	}
}

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"x":                            "docker.io/library/x:latest",
		"x:1":                          "docker.io/library/x:1",
		"org/x":                        "docker.io/org/x:latest",
		"reg.io:5000/x":                "reg.io:5000/x:latest",
		"localhost/x:2":                "localhost/x:2",
		"reg.io/x@sha256:abc":          "reg.io/x@sha256:abc",
		"rtmanager-test-engine:latest": "docker.io/library/rtmanager-test-engine:latest",
	} {
		if got := NormalizeImage(in); got != want {
			t.Errorf("NormalizeImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"--endpoint", "node"}, {"--namespace", "Bad_NS"}, {"--host-ports", "9-1", "--endpoint", "host-port"},
		{"--node-selector", "a"}, {"--image-pull-policy", "Sometimes"}, {"--requests", "half"}, {"stray"},
	} {
		if _, err := ParseFlags(bad); err == nil {
			t.Errorf("ParseFlags(%v) = nil error", bad)
		}
	}
	c, err := ParseFlags([]string{"--endpoint", "host-port", "--node-selector", "pool=games,zone=a"})
	if err != nil || c.HostPortMin != 7000 || c.HostPortMax != 8000 || c.NodeSelector["zone"] != "a" || c.Namespace != "rtmanager" {
		t.Errorf("ParseFlags = %+v, %v", c, err)
	}
}
