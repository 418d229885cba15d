package driverplugin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestToStatus: driver errors become the right status code and reason.
func TestToStatus(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason driverv1.ErrorDetail_Reason
	}{
		{"not found", fmt.Errorf("inspect x: %w", ports.ErrNotFound), codes.NotFound, driverv1.ErrorDetail_REASON_NOT_FOUND},
		{"image unavailable", fmt.Errorf("pull: %w", ports.ErrImageUnavailable), codes.FailedPrecondition, driverv1.ErrorDetail_REASON_IMAGE_UNAVAILABLE},
		{"invalid", fmt.Errorf("spec: %w", ports.ErrInvalid), codes.InvalidArgument, driverv1.ErrorDetail_REASON_INVALID},
		{"unavailable", fmt.Errorf("daemon: %w", ports.ErrUnavailable), codes.Unavailable, driverv1.ErrorDetail_REASON_UNAVAILABLE},
		{"conflict", fmt.Errorf("name: %w", ports.ErrConflict), codes.AlreadyExists, driverv1.ErrorDetail_REASON_CONFLICT},
		{"canceled", fmt.Errorf("wait: %w", context.Canceled), codes.Canceled, driverv1.ErrorDetail_REASON_UNSPECIFIED},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), codes.DeadlineExceeded, driverv1.ErrorDetail_REASON_UNSPECIFIED},
		{"other", errors.New("boom"), codes.Unknown, driverv1.ErrorDetail_REASON_UNSPECIFIED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ok := status.FromError(ToStatus(tt.err))
			if !ok {
				t.Fatalf("ToStatus(%v) is not a status", tt.err)
			}
			if st.Code() != tt.code {
				t.Errorf("code = %s, want %s", st.Code(), tt.code)
			}
			if st.Message() != tt.err.Error() {
				t.Errorf("message = %q, want %q", st.Message(), tt.err.Error())
			}
			var reason driverv1.ErrorDetail_Reason
			for _, d := range st.Details() {
				if e, ok := d.(*driverv1.ErrorDetail); ok {
					reason = e.GetReason()
				}
			}
			if reason != tt.reason {
				t.Errorf("reason = %s, want %s", reason, tt.reason)
			}
		})
	}
	if ToStatus(nil) != nil {
		t.Errorf("ToStatus(nil) != nil")
	}
}

// TestFromStatus: statuses, with or without a detail (a plugin not written
// in Go may send the code alone), become the right sentinel.
func TestFromStatus(t *testing.T) {
	withReason := func(c codes.Code, r driverv1.ErrorDetail_Reason) error {
		st, err := status.New(c, "remote says").WithDetails(&driverv1.ErrorDetail{Reason: r})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	tests := []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{"not found code", status.Error(codes.NotFound, "remote says"), ports.ErrNotFound},
		{"failed precondition code", status.Error(codes.FailedPrecondition, "remote says"), ports.ErrImageUnavailable},
		{"invalid argument code", status.Error(codes.InvalidArgument, "remote says"), ports.ErrInvalid},
		{"unavailable code", status.Error(codes.Unavailable, "remote says"), ports.ErrUnavailable},
		{"already exists code", status.Error(codes.AlreadyExists, "remote says"), ports.ErrConflict},
		{"aborted code", status.Error(codes.Aborted, "remote says"), ports.ErrConflict},
		{"canceled code", status.Error(codes.Canceled, "remote says"), context.Canceled},
		{"deadline code", status.Error(codes.DeadlineExceeded, "remote says"), context.DeadlineExceeded},
		{"unimplemented code", status.Error(codes.Unimplemented, "remote says"), ports.ErrUnsupported},
		{"unknown code", status.Error(codes.Unknown, "remote says"), nil},
		{"internal code", status.Error(codes.Internal, "remote says"), nil},
		{"reason wins over code", withReason(codes.FailedPrecondition, driverv1.ErrorDetail_REASON_INVALID), ports.ErrInvalid},
		{"image reason", withReason(codes.FailedPrecondition, driverv1.ErrorDetail_REASON_IMAGE_UNAVAILABLE), ports.ErrImageUnavailable},
		{"conflict reason", withReason(codes.Aborted, driverv1.ErrorDetail_REASON_CONFLICT), ports.ErrConflict},
		{"transport, not a status", errors.New("connection reset"), ports.ErrUnavailable},
	}
	all := []error{ports.ErrNotFound, ports.ErrImageUnavailable, ports.ErrInvalid, ports.ErrUnavailable, ports.ErrConflict, ports.ErrUnsupported, context.Canceled, context.DeadlineExceeded}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromStatus(tt.err)
			for _, s := range all {
				if want := s == tt.want; errors.Is(got, s) != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", got, s, !want, want)
				}
			}
			if st, ok := status.FromError(tt.err); ok && got.Error() != st.Message() {
				t.Errorf("message = %q, want the remote %q", got.Error(), st.Message())
			}
		})
	}
	if FromStatus(nil) != nil {
		t.Errorf("FromStatus(nil) != nil")
	}
}

// TestRoundTrip: every sentinel, and every error sent as a bare code,
// survives ToStatus then FromStatus with its message intact.
func TestRoundTrip(t *testing.T) {
	errs := []error{ports.ErrUnsupported, context.Canceled, context.DeadlineExceeded}
	for _, s := range sentinels {
		errs = append(errs, s.err)
	}
	for _, e := range errs {
		in := fmt.Errorf("op on abc: %w", e)
		out := FromStatus(ToStatus(in))
		if !errors.Is(out, e) || out.Error() != in.Error() {
			t.Errorf("round trip of %q = %q (is %v: %v)", in, out, e, errors.Is(out, e))
		}
	}
}

// TestCallErr: a Canceled status while the caller's context is live is
// the connection closing, so ErrUnavailable; with the context done it is
// the caller's own cancellation.
func TestCallErr(t *testing.T) {
	canceled := status.Error(codes.Canceled, "grpc: the client connection is closing")
	if err := callErr(context.Background(), canceled); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("callErr(live ctx, Canceled) = %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if err := callErr(ctx, status.Error(codes.DeadlineExceeded, "deadline")); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("callErr(expired ctx, DeadlineExceeded) = %v, want the context's error", err)
	}
}
