package core_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

func TestCodeHTTPStatus(t *testing.T) {
	want := map[core.Code]int{
		core.CodeInvalidRequest: 400, core.CodeUnauthorized: 401, core.CodeForbidden: 403,
		core.CodeNotFound: 404, core.CodeConflict: 409, core.CodeImageUnavailable: 422,
		core.CodeStartFailed: 502, core.CodeServiceUnavailable: 503, core.CodeInternal: 500,
		core.CodeCapacityExceeded: 429, core.CodeUnsupported: 501, core.CodeReplayNoOp: 200,
	}
	if len(core.Codes()) != len(want) {
		t.Fatalf("Codes() has %d codes, want %d", len(core.Codes()), len(want))
	}
	for _, c := range core.Codes() {
		if !c.Known() {
			t.Errorf("%s not Known", c)
		}
		if got := c.HTTPStatus(); got != want[c] {
			t.Errorf("%s.HTTPStatus() = %d, want %d", c, got, want[c])
		}
	}
	if core.Code("bogus").Known() || core.Code("bogus").HTTPStatus() != http.StatusInternalServerError {
		t.Error("an unknown code must be unknown and map to 500")
	}
}

func TestCodeOfAndMessageOf(t *testing.T) {
	coded := core.Errorf(core.CodeConflict, "game %q busy", "g1")
	wrapped := fmt.Errorf("outer: %w", coded)
	tests := []struct {
		name     string
		err      error
		wantCode core.Code
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"coded", coded, core.CodeConflict, `game "g1" busy`},
		{"wrapped", wrapped, core.CodeConflict, `game "g1" busy`},
		{"plain", errors.New("boom"), core.CodeInternal, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := core.CodeOf(tt.err); got != tt.wantCode {
				t.Errorf("CodeOf = %q, want %q", got, tt.wantCode)
			}
			if got := core.MessageOf(tt.err); got != tt.wantMsg {
				t.Errorf("MessageOf = %q, want %q", got, tt.wantMsg)
			}
		})
	}
	if got := (&core.Error{Code: core.CodeNotFound}).Error(); got != "not_found" {
		t.Errorf("Error() without message = %q", got)
	}
	if got := coded.Error(); got != `conflict: game "g1" busy` {
		t.Errorf("Error() = %q", got)
	}
}

func TestOutcomeOf(t *testing.T) {
	for code, want := range map[core.Code]core.Outcome{"": core.OutcomeSuccess,
		core.CodeReplayNoOp: core.OutcomeSuccess, core.CodeConflict: core.OutcomeFailure,
		core.CodeInternal: core.OutcomeFailure} {
		if got := core.OutcomeOf(code); got != want {
			t.Errorf("OutcomeOf(%q) = %s, want %s", code, got, want)
		}
	}
}
