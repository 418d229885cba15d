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
