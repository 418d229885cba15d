package docker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/galaxy-game/rtmanager/ports"
)

// TestStartErr: a container that cannot be started is a start failure
// (no sentinel), whatever class Docker gave the error, unless the daemon
// is unreachable or the caller cancelled.
func TestStartErr(t *testing.T) {
	sentinels := []error{ports.ErrNotFound, ports.ErrInvalid, ports.ErrConflict, ports.ErrUnavailable, ports.ErrImageUnavailable}
	for _, tc := range []struct {
		name string
		in   error
		want error // the only sentinel the result may match; nil: none
	}{
		{"missing entrypoint (400)", fmt.Errorf("exec: \"/engine\": executable file not found in $PATH: %w", cerrdefs.ErrInvalidArgument), nil},
		{"removed meanwhile (404)", fmt.Errorf("no such container: %w", cerrdefs.ErrNotFound), nil},
		{"port taken (500)", errors.New("driver failed programming external connectivity"), nil},
		{"conflict", fmt.Errorf("in use: %w", cerrdefs.ErrConflict), nil},
		{"daemon unreachable", fmt.Errorf("dial: %w", cerrdefs.ErrUnavailable), ports.ErrUnavailable},
		{"deadline", context.DeadlineExceeded, ports.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := startErr(tc.in)
			for _, s := range sentinels {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("startErr(%v) = %v; errors.Is(%v) = %v", tc.in, got, s, !(s == tc.want))
				}
			}
		})
	}
	if got := startErr(context.Canceled); !errors.Is(got, context.Canceled) {
		t.Errorf("startErr(context.Canceled) = %v, lost the cancellation", got)
	}
}
