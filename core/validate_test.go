package core_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

func TestValidateGameID(t *testing.T) {
	valid := []string{"a", "0", "game-1", "g_2", "abc-def_ghi", strings.Repeat("a", 64)}
	invalid := []string{"", "-a", "_a", "A", "game 1", "g.1", "g/1", "ü", strings.Repeat("a", 65), "a\x00"}
	for _, id := range valid {
		if err := core.ValidateGameID(id); err != nil {
			t.Errorf("ValidateGameID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range invalid {
		if err := core.ValidateGameID(id); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("ValidateGameID(%q) = %v, want invalid_request", id, err)
		}
	}
}

func TestValidateImageRef(t *testing.T) {
	for _, ref := range []string{"engine:1", "registry.local:5000/games/chess@sha256:abc", "file:///opt/engine"} {
		if err := core.ValidateImageRef(ref); err != nil {
			t.Errorf("ValidateImageRef(%q) = %v", ref, err)
		}
	}
	for _, ref := range []string{"", "a b", "a\tb", "a\nb", "\x7f", strings.Repeat("x", 513), "\xff"} {
		if err := core.ValidateImageRef(ref); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("ValidateImageRef(%q) = %v, want invalid_request", ref, err)
		}
	}
}

func TestValidateEnv(t *testing.T) {
	many := map[string]string{}
	for i := range 65 {
		many["K"+strings.Repeat("x", i)] = "v"
	}
	tests := []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"nil", nil, true},
		{"plain", map[string]string{"MODE": "ranked", "_X1": ""}, true},
		{"reserved GAME_ID", map[string]string{"GAME_ID": "x"}, false},
		{"reserved PORT", map[string]string{"PORT": "1"}, false},
		{"digit first", map[string]string{"1A": "x"}, false},
		{"empty name", map[string]string{"": "x"}, false},
		{"dash", map[string]string{"A-B": "x"}, false},
		{"NUL in value", map[string]string{"A": "x\x00"}, false},
		{"huge value", map[string]string{"A": strings.Repeat("x", 4097)}, false},
		{"long name", map[string]string{strings.Repeat("A", 129): "x"}, false},
		{"too many", many, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := core.ValidateEnv(tt.env)
			if tt.ok != (err == nil) || (err != nil && core.CodeOf(err) != core.CodeInvalidRequest) {
				t.Errorf("ValidateEnv = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"game_finished", "game_cancelled", "admin_request", "idle_timeout", "restart", "patch", "shutdown"} {
		if r, err := core.ParseStopReason(s); err != nil || r.String() != s {
			t.Errorf("ParseStopReason(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := core.ParseStopReason("because"); core.CodeOf(err) != core.CodeInvalidRequest {
		t.Errorf("ParseStopReason(because) = %v", err)
	}
	for _, st := range core.Statuses() {
		if got, err := core.ParseStatus(string(st)); err != nil || got != st {
			t.Errorf("ParseStatus(%q) = %v, %v", st, got, err)
		}
	}
	if _, err := core.ParseStatus("zombie"); core.CodeOf(err) != core.CodeInvalidRequest {
		t.Errorf("ParseStatus(zombie) = %v", err)
	}
	for _, s := range []core.OpSource{core.SourceStream, core.SourceREST, core.SourceAdmin, core.SourceReconciler, core.SourceJanitor} {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if core.OpSource("cron").Valid() {
		t.Error("cron must not be a valid source")
	}
}
