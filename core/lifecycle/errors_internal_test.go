package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

func TestErrorTranslation(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("adapter: %w", err) }
	store := map[error]core.Code{
		wrap(ports.ErrUnavailable):        core.CodeServiceUnavailable,
		wrap(context.DeadlineExceeded):    core.CodeServiceUnavailable,
		wrap(ports.ErrNotFound):           core.CodeNotFound,
		wrap(ports.ErrConflict):           core.CodeConflict,
		wrap(ports.ErrInvalid):            core.CodeInvalidRequest,
		wrap(ports.ErrUnsupported):        core.CodeUnsupported,
		wrap(context.Canceled):            core.CodeServiceUnavailable,
		errors.New("syntax error at or…"): core.CodeInternal,
	}
	for err, want := range store {
		if got := core.CodeOf(storeErr("x", err)); got != want {
			t.Errorf("storeErr(%v) = %s, want %s", err, got, want)
		}
	}
	driver := map[error]core.Code{
		wrap(ports.ErrNotFound):         core.CodeNotFound,
		wrap(ports.ErrImageUnavailable): core.CodeImageUnavailable,
		wrap(ports.ErrUnavailable):      core.CodeServiceUnavailable,
		wrap(context.Canceled):          core.CodeServiceUnavailable,
		wrap(ports.ErrInvalid):          core.CodeInvalidRequest,
		wrap(ports.ErrConflict):         core.CodeConflict, // a name another owner holds (ports.CheckOwner)
		errors.New("oci runtime error"): core.CodeStartFailed,
	}
	for err, want := range driver {
		if got := core.CodeOf(driverErr("start", err, core.CodeStartFailed)); got != want {
			t.Errorf("driverErr(%v) = %s, want %s", err, got, want)
		}
	}
	b := busyError{core.Errorf(core.CodeConflict, "busy")}
	if b.Error() != "conflict: busy" || core.CodeOf(b) != core.CodeConflict {
		t.Errorf("busyError = %q / %s", b.Error(), core.CodeOf(b))
	}
	if tok, err := randomToken(); err != nil || len(tok) != 32 {
		t.Errorf("randomToken = %q, %v", tok, err)
	}
}
