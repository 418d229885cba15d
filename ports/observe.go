package ports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrUnsupported: the driver does not offer the call (e.g. an image store on
// a plugin driver, logs on a driver without them, or a plugin of an older
// protocol version).
var ErrUnsupported = errors.New("unsupported")

// Bounds of LogOptions.Tail.
const (
	// TailAll asks for every line the driver kept.
	TailAll = -1
	// MaxTail caps how many lines one request may ask for.
	MaxTail = 10000
)

// LogOptions select what a LogSource writes.
type LogOptions struct {
	// Tail is how many of the last lines to write before following:
	// TailAll (-1) for all, 0 for none, at most MaxTail.
	Tail int
	// Since drops lines written before it; zero keeps all.
	Since time.Time
	// Follow keeps writing new lines until the container exits or ctx ends.
	Follow bool
	// Timestamps prefixes every line with its RFC 3339 (nano) UTC time and
	// one space.
	Timestamps bool
}

// Validate reports ErrInvalid for a Tail out of range.
func (o LogOptions) Validate() error {
	if o.Tail < TailAll || o.Tail > MaxTail {
		return fmt.Errorf("%w: tail %d is not -1 (all) or 0..%d", ErrInvalid, o.Tail, MaxTail)
	}
	return nil
}

// LogSource is the optional logs capability of a RuntimeDriver
// (Capabilities.Logs).
type LogSource interface {
	// Logs writes the container's output — stdout and stderr merged in the
	// order they were written, whole lines — to w as selected by opts. With
	// Follow it returns nil once the container has exited and its output is
	// written, and ctx.Err() when ctx ends first; without Follow it returns
	// after the lines kept so far. A write error of w ends it with that
	// error. Errors: ErrNotFound, ErrUnsupported, ErrUnavailable,
	// ErrInvalid (bad opts).
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
}

// Stats is one sample of a container's resource use. A nil figure is one
// the driver cannot measure.
type Stats struct {
	// At is when the sample was taken.
	At time.Time
	// CPUPercent is the CPU use since the previous sample (or the start)
	// in percent of one CPU (200 = two CPUs busy).
	CPUPercent       *float64
	MemoryBytes      *int64
	MemoryLimitBytes *int64
	Pids             *int64
	NetRxBytes       *int64
	NetTxBytes       *int64
}

// StatsSource is the optional stats capability of a RuntimeDriver
// (Capabilities.Stats).
type StatsSource interface {
	// Stats returns one sample of the running container's resource use.
	// Errors: ErrNotFound (also when the container is not running),
	// ErrUnsupported, ErrUnavailable.
	Stats(ctx context.Context, id string) (Stats, error)
}

// ReadLogs calls d's LogSource, or returns ErrUnsupported when d has none.
// Wrapping drivers forward through it.
func ReadLogs(ctx context.Context, d RuntimeDriver, id string, opts LogOptions, w io.Writer) error {
	ls, ok := d.(LogSource)
	if !ok {
		return fmt.Errorf("%w: the %T driver has no logs", ErrUnsupported, d)
	}
	return ls.Logs(ctx, id, opts, w)
}

// ReadStats calls d's StatsSource, or returns ErrUnsupported when d has
// none. Wrapping drivers forward through it.
func ReadStats(ctx context.Context, d RuntimeDriver, id string) (Stats, error) {
	ss, ok := d.(StatsSource)
	if !ok {
		return Stats{}, fmt.Errorf("%w: the %T driver has no stats", ErrUnsupported, d)
	}
	return ss.Stats(ctx, id)
}

// Int64 returns a pointer to v, for Stats figures.
func Int64(v int64) *int64 { return &v }

// Float64 returns a pointer to v, for Stats figures.
func Float64(v float64) *float64 { return &v }
