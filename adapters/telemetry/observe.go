package telemetry

import (
	"context"
	"errors"
	"io"

	"go.opentelemetry.io/otel/attribute"

	"github.com/galaxy-game/rtmanager/ports"
)

// Driver call names of the optional capabilities.
const (
	CallLogs  = "logs"
	CallStats = "stats"
)

var (
	_ ports.LogSource   = driver{}
	_ ports.StatsSource = driver{}
)

// Logs implements ports.LogSource; the wrapped driver answers
// ErrUnsupported when it has no logs. A follow is timed as a whole; its
// reader leaving (context.Canceled) and an unsupported answer are ordinary
// outcomes, not span errors.
func (d driver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) (err error) {
	ctx, end := d.call(ctx, CallLogs, attribute.String("container_id", id), attribute.Bool("follow", opts.Follow))
	defer func() { end(ordinary(err)) }()
	return ports.ReadLogs(ctx, d.next, id, opts, w)
}

// Stats implements ports.StatsSource; the wrapped driver answers
// ErrUnsupported when it has no stats.
func (d driver) Stats(ctx context.Context, id string) (_ ports.Stats, err error) {
	ctx, end := d.call(ctx, CallStats, attribute.String("container_id", id))
	defer func() { end(ordinary(err)) }()
	return ports.ReadStats(ctx, d.next, id)
}

// ordinary drops the errors of the optional calls that are not failures.
func ordinary(err error) error {
	if errors.Is(err, ports.ErrUnsupported) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
