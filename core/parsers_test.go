package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

func TestParseEngineUser(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		uid, gid uint32
		ok       bool
	}{
		{"nobody", "65534:65534", 65534, 65534, true},
		{"root is numeric too", "0:0", 0, 0, true},
		{"largest ids", "2147483647:2147483647", 1<<31 - 1, 1<<31 - 1, true},
		{"empty", "", 0, 0, false},
		{"no gid", "1000", 0, 0, false},
		{"empty gid", "1000:", 0, 0, false},
		{"empty uid", ":1000", 0, 0, false},
		{"user name", "nobody:nogroup", 0, 0, false},
		{"negative uid", "-1:0", 0, 0, false},
		{"uid at 2^31", "2147483648:0", 0, 0, false},
		{"gid at 2^31", "0:2147483648", 0, 0, false},
		{"three parts", "1:2:3", 0, 0, false},
		{"spaces", " 1:2", 0, 0, false},
		{"plus sign", "+1:2", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid, gid, err := core.ParseEngineUser(tc.in)
			if !tc.ok {
				if core.CodeOf(err) != core.CodeInvalidRequest {
					t.Fatalf("ParseEngineUser(%q) = %d, %d, %v; want invalid_request", tc.in, uid, gid, err)
				}
				if !strings.Contains(err.Error(), "uid:gid") {
					t.Errorf("error %q does not say the expected form", err)
				}
				return
			}
			if err != nil || uid != tc.uid || gid != tc.gid {
				t.Fatalf("ParseEngineUser(%q) = %d, %d, %v; want %d, %d", tc.in, uid, gid, err, tc.uid, tc.gid)
			}
		})
	}
}

func TestParsePullPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want core.PullPolicy
		ok   bool
	}{
		{"", core.PullIfNotPresent, true},
		{"if_not_present", core.PullIfNotPresent, true},
		{"always", core.PullAlways, true},
		{"never", core.PullNever, true},
		{"Always", "", false},
		{"if-not-present", "", false},
		{" always", "", false},
		{"sometimes", "", false},
	} {
		got, err := core.ParsePullPolicy(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParsePullPolicy(%q) = %q, %v; want %q (ok=%v)", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParsePullPolicy(%q) error %q does not name the value", tc.in, err)
		}
	}
}

// TestHealthEventTypes: the list SPEC pins, each once, in a fixed order.
func TestHealthEventTypes(t *testing.T) {
	want := []core.HealthEventType{"container_started", "container_exited", "container_oom", "container_disappeared",
		"health_check_failed", "health_check_recovered", "orphan_removed", "container_restarted", "crash_loop"}
	got := core.HealthEventTypes()
	if len(got) != len(want) {
		t.Fatalf("HealthEventTypes() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("HealthEventTypes()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	got[0] = "mutated"
	if core.HealthEventTypes()[0] != core.EventContainerStarted {
		t.Error("HealthEventTypes returns a shared slice a caller can corrupt")
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    core.Backoff
		ok   bool
	}{
		{"typical", core.Backoff{Base: 10 * time.Second, Max: 5 * time.Minute, ResetAfter: 10 * time.Minute}, true},
		{"base equals max", core.Backoff{Base: time.Second, Max: time.Second, ResetAfter: time.Second}, true},
		{"zero base", core.Backoff{Max: time.Minute, ResetAfter: time.Minute}, false},
		{"negative max", core.Backoff{Base: time.Second, Max: -time.Minute, ResetAfter: time.Minute}, false},
		{"zero reset-after", core.Backoff{Base: time.Second, Max: time.Minute}, false},
		{"base above max", core.Backoff{Base: time.Hour, Max: time.Minute, ResetAfter: time.Minute}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.b.Validate(); (err == nil) != tc.ok {
				t.Errorf("%+v.Validate() = %v, want ok=%v", tc.b, err, tc.ok)
			}
		})
	}
}

// TestRestartPolicyValidate covers every validation error of a policy built
// in code (not decoded), at and just past each bound.
func TestRestartPolicyValidate(t *testing.T) {
	ok := core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 5, Window: 10 * time.Minute}
	for _, tc := range []struct {
		name  string
		edit  func(*core.RestartPolicy)
		field string // "" when valid
	}{
		{"valid", func(*core.RestartPolicy) {}, ""},
		{"mode never", func(p *core.RestartPolicy) { p.Mode = core.RestartNever }, ""},
		{"mode always", func(p *core.RestartPolicy) { p.Mode = core.RestartAlways }, ""},
		{"unknown mode", func(p *core.RestartPolicy) { p.Mode = "unless-stopped" }, "mode"},
		{"empty mode", func(p *core.RestartPolicy) { p.Mode = "" }, "mode"},
		{"upper-case mode", func(p *core.RestartPolicy) { p.Mode = "ALWAYS" }, "mode"},
		{"zero restarts", func(p *core.RestartPolicy) { p.MaxRestarts = 0 }, ""},
		{"max restarts at limit", func(p *core.RestartPolicy) { p.MaxRestarts = core.MaxRestartsLimit }, ""},
		{"max restarts over limit", func(p *core.RestartPolicy) { p.MaxRestarts = core.MaxRestartsLimit + 1 }, "max_restarts"},
		{"negative restarts", func(p *core.RestartPolicy) { p.MaxRestarts = -1 }, "max_restarts"},
		{"window at minimum", func(p *core.RestartPolicy) { p.Window = core.MinRestartWindow }, ""},
		{"window below minimum", func(p *core.RestartPolicy) { p.Window = core.MinRestartWindow - 1 }, "window"},
		{"window at maximum", func(p *core.RestartPolicy) { p.Window = core.MaxRestartWindow }, ""},
		{"window above maximum", func(p *core.RestartPolicy) { p.Window = core.MaxRestartWindow + 1 }, "window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.edit(&p)
			err := p.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("%+v.Validate() = %v, want nil", p, err)
				}
				return
			}
			if core.CodeOf(err) != core.CodeInvalidRequest || !strings.Contains(err.Error(), "restart_policy."+tc.field) {
				t.Fatalf("%+v.Validate() = %v, want invalid_request naming restart_policy.%s", p, err, tc.field)
			}
		})
	}
}

func TestRestartPolicyDecodeRejects(t *testing.T) {
	def := core.RestartPolicy{Mode: core.RestartNever, MaxRestarts: 5, Window: 10 * time.Minute}
	huge := `{"mode":"always"` + strings.Repeat(" ", 1100) + `}`
	if _, err := core.ParseRestartPolicy([]byte(huge), def); core.CodeOf(err) != core.CodeInvalidRequest || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("oversized restart_policy = %v, want invalid_request about its length", err)
	}
	// UnmarshalJSON reports a malformed object and leaves the policy as it was.
	p := def
	for _, raw := range []string{`{"mode":1}`, `{"window":"soon"}`, `{"mode":"always","x":1}`, `{"mode":"always"}x`} {
		if err := p.UnmarshalJSON([]byte(raw)); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("UnmarshalJSON(%s) = %v, want invalid_request", raw, err)
		}
		if p != def {
			t.Fatalf("UnmarshalJSON(%s) changed the policy to %+v on error", raw, p)
		}
	}
	// UnmarshalJSON does not validate: a stored policy always loads.
	if err := p.UnmarshalJSON([]byte(`{"mode":"always","max_restarts":5000,"window":"1ns"}`)); err != nil ||
		p != (core.RestartPolicy{Mode: core.RestartAlways, MaxRestarts: 5000, Window: time.Nanosecond}) {
		t.Errorf("UnmarshalJSON out-of-bounds policy = %+v, %v", p, err)
	}
}
