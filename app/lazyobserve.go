package app

import (
	"context"
	"io"

	"github.com/galaxy-game/rtmanager/ports"
)

var (
	_ ports.LogSource   = (*lazyDriver)(nil)
	_ ports.StatsSource = (*lazyDriver)(nil)
)

// Logs implements ports.LogSource by forwarding to the connected driver.
func (l *lazyDriver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return ports.ReadLogs(ctx, d, id, opts, w)
}

// Stats implements ports.StatsSource by forwarding to the connected driver.
func (l *lazyDriver) Stats(ctx context.Context, id string) (ports.Stats, error) {
	d, err := l.get(ctx)
	if err != nil {
		return ports.Stats{}, err
	}
	return ports.ReadStats(ctx, d, id)
}
