package driverplugin

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	"github.com/galaxy-game/rtmanager/ports"
)

// sentinels pairs every port sentinel with its wire reason and code. The
// order matters where an error wraps several: the first match wins.
var sentinels = []struct {
	err    error
	reason driverv1.ErrorDetail_Reason
	code   codes.Code
}{
	{ports.ErrNotFound, driverv1.ErrorDetail_REASON_NOT_FOUND, codes.NotFound},
	{ports.ErrImageUnavailable, driverv1.ErrorDetail_REASON_IMAGE_UNAVAILABLE, codes.FailedPrecondition},
	{ports.ErrInvalid, driverv1.ErrorDetail_REASON_INVALID, codes.InvalidArgument},
	{ports.ErrUnavailable, driverv1.ErrorDetail_REASON_UNAVAILABLE, codes.Unavailable},
	{ports.ErrConflict, driverv1.ErrorDetail_REASON_CONFLICT, codes.AlreadyExists},
}

// bareCodes pairs the errors that travel as a status code alone (no
// ErrorDetail) with their code.
var bareCodes = []struct {
	err  error
	code codes.Code
}{
	{ports.ErrUnsupported, codes.Unimplemented},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// ToStatus converts a driver error into a gRPC status error for the wire:
// a port sentinel becomes its code plus an ErrorDetail, a context error
// becomes Canceled or DeadlineExceeded, anything else Unknown. The message
// is err's text, unchanged. nil stays nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isPortError(err) && !errors.Is(err, ports.ErrUnsupported) {
		return err // already a status (e.g. from a nested gRPC call)
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			st := status.New(s.code, err.Error())
			if d, derr := st.WithDetails(&driverv1.ErrorDetail{Reason: s.reason}); derr == nil {
				st = d
			}
			return st.Err()
		}
	}
	for _, b := range bareCodes {
		if errors.Is(err, b.err) {
			return status.Error(b.code, err.Error())
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

func isPortError(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return true
		}
	}
	return false
}

// FromStatus converts an error returned by a gRPC call into a driver error.
// The ErrorDetail's reason wins; without one the status code decides
// (Aborted also means ErrConflict). A transport failure (the plugin died,
// the connection broke) arrives as Unavailable and becomes ErrUnavailable.
// The returned error's text is the remote message; errors.Is finds the
// sentinel. nil stays nil.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not from gRPC at all: a local failure of the transport.
		return &remoteError{msg: err.Error(), sentinel: ports.ErrUnavailable, cause: err}
	}
	for _, d := range st.Details() {
		if detail, ok := d.(*driverv1.ErrorDetail); ok {
			for _, s := range sentinels {
				if s.reason == detail.GetReason() {
					return &remoteError{msg: st.Message(), sentinel: s.err}
				}
			}
		}
	}
	return &remoteError{msg: st.Message(), sentinel: sentinelOf(st.Code())}
}

// sentinelOf is the error a status code without an ErrorDetail stands for
// (nil for one no table names): the inverse of sentinels' and bareCodes'
// codes, with Aborted also meaning ErrConflict.
func sentinelOf(code codes.Code) error {
	if code == codes.Aborted {
		return ports.ErrConflict
	}
	for _, s := range sentinels {
		if s.code == code {
			return s.err
		}
	}
	for _, b := range bareCodes {
		if b.code == code {
			return b.err
		}
	}
	return nil
}

// remoteError is an error that crossed the plugin boundary: the remote
// message, and the sentinel (if any) it wrapped on the other side.
type remoteError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *remoteError) Error() string {
	if e.sentinel != nil && e.msg == "" {
		return e.sentinel.Error()
	}
	return e.msg
}

func (e *remoteError) Unwrap() []error {
	var errs []error
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}
