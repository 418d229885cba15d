package ports

import (
	"context"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

// HealthPublisher appends health events to runtime:health_events; it does
// nothing else (core upserts the game's snapshot in the SnapshotStore).
// Callers treat it as best-effort. The contract suite is ports/healthtest.
type HealthPublisher interface {
	// Publish appends ev; a zero OccurredAt is set to now and nil Details
	// are published as an empty object. Errors: ErrInvalid when Details
	// cannot be encoded as JSON (nothing is published), ErrUnavailable.
	Publish(ctx context.Context, ev core.HealthEvent) error
}

// Prober asks a running engine whether it is ready.
type Prober interface {
	// Probe returns nil when the engine at endpoint (host:port) answers its
	// health path with a 2xx status, and an error describing the miss
	// otherwise.
	Probe(ctx context.Context, endpoint string) error
}

// Telemetry is what core reports about its work. The OpenTelemetry adapter
// turns it into metrics and spans; a no-op implementation is fine in tests.
type Telemetry interface {
	// OperationDone records one finished operation attempt and its duration.
	OperationDone(ctx context.Context, e core.OperationEntry, d time.Duration)
	// LeaseAcquire records how long one lease acquisition took.
	LeaseAcquire(ctx context.Context, d time.Duration)
	// HealthEvent counts one published health event.
	HealthEvent(ctx context.Context, t core.HealthEventType)
	// Span starts a trace span named name; end finishes it with err.
	Span(ctx context.Context, name string) (_ context.Context, end func(err error))
	// Panicked counts one panic recovered in where (a loop or worker name,
	// see Guard).
	Panicked(ctx context.Context, where string)
	// ImagePull records one image pull that ran (not a caller that joined
	// a pull in progress) with its result (success, not_found,
	// unauthorized, unreachable, timeout, error, local_fallback) and
	// duration.
	ImagePull(ctx context.Context, result string, d time.Duration)
}

// NopTelemetry implements Telemetry by doing nothing.
type NopTelemetry struct{}

// OperationDone implements Telemetry.
func (NopTelemetry) OperationDone(context.Context, core.OperationEntry, time.Duration) {}

// LeaseAcquire implements Telemetry.
func (NopTelemetry) LeaseAcquire(context.Context, time.Duration) {}

// HealthEvent implements Telemetry.
func (NopTelemetry) HealthEvent(context.Context, core.HealthEventType) {}

// Span implements Telemetry.
func (NopTelemetry) Span(ctx context.Context, _ string) (context.Context, func(error)) {
	return ctx, func(error) {}
}

// Panicked implements Telemetry.
func (NopTelemetry) Panicked(context.Context, string) {}

// ImagePull implements Telemetry.
func (NopTelemetry) ImagePull(context.Context, string, time.Duration) {}

var _ Telemetry = NopTelemetry{}
