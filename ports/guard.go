package ports

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Guard runs f and stops a panic in it from taking the process down: the
// panic value and stack are logged at error level, counted with
// tel.Panicked(where) (rtmanager_panics_total{where}), and Guard returns
// true. Background loops and stream workers run each unit of work through
// it so one poisonous job or record cannot crash-loop the fleet. A nil tel
// or log is allowed.
func Guard(ctx context.Context, tel Telemetry, log *slog.Logger, where string, f func()) (panicked bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		panicked = true
		if log == nil {
			log = slog.Default()
		}
		log.ErrorContext(ctx, "recovered from a panic; carrying on", "where", where,
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if tel != nil {
			tel.Panicked(ctx, where)
		}
	}()
	f()
	return false
}
