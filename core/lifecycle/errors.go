package lifecycle

import (
	"context"
	"errors"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// portCodes is the one table from the port sentinels (and context errors)
// to error codes, in precedence order. Every path that turns an adapter's
// error into a coded error — the lifecycle steps and the REST reads —
// goes through it.
var portCodes = [...]struct {
	err  error
	code core.Code
}{
	{ports.ErrNotFound, core.CodeNotFound},
	{ports.ErrConflict, core.CodeConflict},
	{ports.ErrImageUnavailable, core.CodeImageUnavailable},
	{ports.ErrUnavailable, core.CodeServiceUnavailable},
	{context.Canceled, core.CodeServiceUnavailable},
	{context.DeadlineExceeded, core.CodeServiceUnavailable},
	{ports.ErrInvalid, core.CodeInvalidRequest},
	{ports.ErrUnsupported, core.CodeUnsupported},
}

// PortCode returns the code of the first sentinel of the table err wraps,
// and otherwise for an error that wraps none.
func PortCode(err error, otherwise core.Code) core.Code {
	for _, p := range portCodes {
		if errors.Is(err, p.err) {
			return p.code
		}
	}
	return otherwise
}

// PortError returns err of a port call as a coded error "what: err", coded
// by PortCode with internal for an error without a sentinel.
func PortError(what string, err error) *core.Error {
	return core.Errorf(PortCode(err, core.CodeInternal), "%s: %v", what, err)
}
