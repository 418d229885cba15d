package pluginhost

import (
	"context"
	"io"

	"github.com/galaxy-game/rtmanager/ports"
)

var (
	_ ports.LogSource   = (*Host)(nil)
	_ ports.StatsSource = (*Host)(nil)
)

// Logs implements ports.LogSource: a protocol version 2 plugin serves it,
// a version 1 plugin answers ports.ErrUnsupported. A follow ends with
// ports.ErrUnavailable when the plugin dies.
func (h *Host) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	d, err := h.current()
	if err != nil {
		return err
	}
	return d.Logs(ctx, id, opts, w)
}

// Stats implements ports.StatsSource like Logs.
func (h *Host) Stats(ctx context.Context, id string) (ports.Stats, error) {
	d, err := h.current()
	if err != nil {
		return ports.Stats{}, err
	}
	return d.Stats(ctx, id)
}
