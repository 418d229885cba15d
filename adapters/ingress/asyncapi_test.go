package ingress_test

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestAsyncAPIMatchesDecoder keeps docs/asyncapi.yaml in step with the
// decoder and core's vocabulary.
func TestAsyncAPIMatchesDecoder(t *testing.T) {
	b, err := os.ReadFile("../../docs/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsyncAPI string         `yaml:"asyncapi"`
		Channels map[string]any `yaml:"channels"`
		Comps    struct {
			Schemas map[string]struct {
				Required   []string `yaml:"required"`
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse asyncapi.yaml: %v", err)
	}
	for _, ch := range []string{ports.StreamStartJobs, ports.StreamStopJobs, ports.StreamJobResults, ports.StreamHealthEvents} {
		if _, ok := doc.Channels[ch]; !ok {
			t.Errorf("channel %s missing", ch)
		}
	}
	s := doc.Comps.Schemas
	if got := keys(s["StartJob"].Properties); !slices.Equal(got, []string{"env", "game_id", "image_ref", "restart_policy"}) {
		t.Errorf("StartJob properties = %v", got)
	}
	if got := keys(s["StopJob"].Properties); !slices.Equal(got, []string{"game_id", "reason"}) {
		t.Errorf("StopJob properties = %v", got)
	}
	for _, r := range s["StopJob"].Properties["reason"].Enum {
		if _, err := core.ParseStopReason(r); err != nil {
			t.Errorf("documented reason %q: %v", r, err)
		}
	}
	if n, want := len(s["StopJob"].Properties["reason"].Enum), len(core.StopReasons()); n != want {
		t.Errorf("%d stop reasons documented, want %d", n, want)
	}
	var events []string
	for _, e := range core.HealthEventTypes() {
		events = append(events, string(e))
	}
	if got := s["HealthEvent"].Properties["event_type"].Enum; !slices.Equal(got, events) {
		t.Errorf("HealthEvent event types = %v, want %v", got, events)
	}
	for _, c := range s["JobResult"].Properties["error_code"].Enum {
		if c != "" && !core.Code(c).Known() {
			t.Errorf("documented error code %q is unknown", c)
		}
	}
	want := []string{"job_stream", "job_id", "game_id", "op_kind", "outcome", "error_code", "error_message",
		"container_id", "endpoint", "finished_at"}
	if got := s["JobResult"].Required; !slices.Equal(got, want) {
		t.Errorf("JobResult required = %v, want %v", got, want)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
