package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/redact"
	"github.com/galaxy-game/rtmanager/ports"
)

// Driver call names: the call label of rtmanager_driver_call_duration_seconds
// and the suffix of the "driver.<call>" span names.
const (
	CallPrepareImage = "prepare_image"
	CallStart        = "start"
	CallStop         = "stop"
	CallRemove       = "remove"
	CallInspect      = "inspect"
	CallList         = "list"
	CallEvents       = "events"
	CallCapabilities = "capabilities"
)

// driver times and traces every call of a ports.RuntimeDriver.
type driver struct {
	t    *Telemetry
	next ports.RuntimeDriver
}

var _ ports.RuntimeDriver = driver{}

// WrapDriver returns d with every call timed into
// rtmanager_driver_call_duration_seconds{call} and run in a "driver.<call>"
// span. A not-found answer is an ordinary outcome, not a span error.
// Events is timed for its subscription only.
func (t *Telemetry) WrapDriver(d ports.RuntimeDriver) ports.RuntimeDriver {
	return driver{t: t, next: d}
}

// call starts the span of one driver call and returns its end function.
func (d driver) call(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	began := time.Now()
	ctx, span := d.t.tracer.Start(ctx, "driver."+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		d.t.driverCall.Record(ctx, time.Since(began).Seconds(),
			metric.WithAttributes(attribute.String("call", name)))
		endPortSpan(span, err)
	}
}

// PrepareImage implements ports.RuntimeDriver.
func (d driver) PrepareImage(ctx context.Context, image string) (err error) {
	ctx, end := d.call(ctx, CallPrepareImage, attribute.String("image_ref", image))
	defer func() { end(err) }()
	return d.next.PrepareImage(ctx, image)
}

// Start implements ports.RuntimeDriver.
func (d driver) Start(ctx context.Context, spec ports.ContainerSpec) (_ ports.Container, err error) {
	ctx, end := d.call(ctx, CallStart, attribute.String("container_name", spec.Name),
		attribute.String("image_ref", spec.Image))
	defer func() { end(err) }()
	return d.next.Start(ctx, spec)
}

// Stop implements ports.RuntimeDriver.
func (d driver) Stop(ctx context.Context, id string, timeout time.Duration) (err error) {
	ctx, end := d.call(ctx, CallStop, attribute.String("container_id", id))
	defer func() { end(err) }()
	return d.next.Stop(ctx, id, timeout)
}

// Remove implements ports.RuntimeDriver.
func (d driver) Remove(ctx context.Context, id string) (err error) {
	ctx, end := d.call(ctx, CallRemove, attribute.String("container_id", id))
	defer func() { end(err) }()
	return d.next.Remove(ctx, id)
}

// Inspect implements ports.RuntimeDriver.
func (d driver) Inspect(ctx context.Context, id string) (_ ports.Container, err error) {
	ctx, end := d.call(ctx, CallInspect, attribute.String("container_id", id))
	defer func() { end(err) }()
	return d.next.Inspect(ctx, id)
}

// List implements ports.RuntimeDriver.
func (d driver) List(ctx context.Context, labels map[string]string) (_ []ports.Container, err error) {
	ctx, end := d.call(ctx, CallList)
	defer func() { end(err) }()
	return d.next.List(ctx, labels)
}

// Events implements ports.RuntimeDriver. The stream itself runs under ctx
// as given, outside the subscription span.
func (d driver) Events(ctx context.Context) (_ <-chan ports.Event, err error) {
	_, end := d.call(ctx, CallEvents)
	defer func() { end(err) }()
	return d.next.Events(ctx)
}

// Capabilities implements ports.RuntimeDriver.
func (d driver) Capabilities(ctx context.Context) (_ ports.Capabilities, err error) {
	ctx, end := d.call(ctx, CallCapabilities)
	defer func() { end(err) }()
	return d.next.Capabilities(ctx)
}

// store traces every call of a ports.Store.
type store struct {
	t    *Telemetry
	next ports.Store
}

var _ ports.Store = store{}

// WrapStore returns s with every call run in a "store.<Method>" span. A
// not-found answer or a lost compare-and-swap is an ordinary outcome, not a
// span error. The result has the optional capabilities of s that
// lifecycle uses (ports.SwapAppender, ports.BatchReader, ports.BatchCreator).
func (t *Telemetry) WrapStore(s ports.Store) ports.Store {
	return wrapCapabilities(store{t: t, next: s}, s)
}

func (s store) span(ctx context.Context, name, game string) (context.Context, func(error)) {
	var attrs []attribute.KeyValue
	if game != "" {
		attrs = append(attrs, attribute.String("game_id", game))
	}
	ctx, span := s.t.tracer.Start(ctx, "store."+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
	return ctx, func(err error) { endPortSpan(span, err) }
}

// Get implements ports.RecordStore.
func (s store) Get(ctx context.Context, gameID string) (_ core.Record, err error) {
	ctx, end := s.span(ctx, "Get", gameID)
	defer func() { end(err) }()
	return s.next.Get(ctx, gameID)
}

// Create implements ports.RecordStore.
func (s store) Create(ctx context.Context, rec core.Record) (err error) {
	ctx, end := s.span(ctx, "Create", rec.GameID)
	defer func() { end(err) }()
	return s.next.Create(ctx, rec)
}

// Swap implements ports.RecordStore.
func (s store) Swap(ctx context.Context, expect ports.Expect, next core.Record) (err error) {
	ctx, end := s.span(ctx, "Swap", next.GameID)
	defer func() { end(err) }()
	return s.next.Swap(ctx, expect, next)
}

// Reserve implements ports.RecordStore.
func (s store) Reserve(ctx context.Context, expect *ports.Expect, next core.Record, limit int) (err error) {
	ctx, end := s.span(ctx, "Reserve", next.GameID)
	defer func() { end(err) }()
	return s.next.Reserve(ctx, expect, next, limit)
}

// List implements ports.RecordStore.
func (s store) List(ctx context.Context, q ports.ListQuery) (_ []core.Record, _ string, err error) {
	ctx, end := s.span(ctx, "List", "")
	defer func() { end(err) }()
	return s.next.List(ctx, q)
}

// ListHeads implements ports.RecordStore.
func (s store) ListHeads(ctx context.Context, q ports.ListQuery) (_ []core.RecordHead, _ string, err error) {
	ctx, end := s.span(ctx, "ListHeads", "")
	defer func() { end(err) }()
	return s.next.ListHeads(ctx, q)
}

// CountByStatus implements ports.RecordStore.
func (s store) CountByStatus(ctx context.Context) (_ map[core.Status]int, err error) {
	ctx, end := s.span(ctx, "CountByStatus", "")
	defer func() { end(err) }()
	return s.next.CountByStatus(ctx)
}

// AppendOperation implements ports.OperationLog.
func (s store) AppendOperation(ctx context.Context, e core.OperationEntry) (_ int64, err error) {
	ctx, end := s.span(ctx, "AppendOperation", e.GameID)
	defer func() { end(err) }()
	return s.next.AppendOperation(ctx, e)
}

// AppendOperations implements ports.OperationLog.
func (s store) AppendOperations(ctx context.Context, es []core.OperationEntry) (_ []int64, err error) {
	ctx, end := s.span(ctx, "AppendOperations", "")
	defer func() { end(err) }()
	return s.next.AppendOperations(ctx, es)
}

// ListOperations implements ports.OperationLog.
func (s store) ListOperations(ctx context.Context, gameID string, limit int) (_ []core.OperationEntry, err error) {
	ctx, end := s.span(ctx, "ListOperations", gameID)
	defer func() { end(err) }()
	return s.next.ListOperations(ctx, gameID, limit)
}

// UpsertSnapshot implements ports.SnapshotStore.
func (s store) UpsertSnapshot(ctx context.Context, snap core.HealthSnapshot) (err error) {
	ctx, end := s.span(ctx, "UpsertSnapshot", snap.GameID)
	defer func() { end(err) }()
	return s.next.UpsertSnapshot(ctx, snap)
}

// GetSnapshot implements ports.SnapshotStore.
func (s store) GetSnapshot(ctx context.Context, gameID string) (_ core.HealthSnapshot, err error) {
	ctx, end := s.span(ctx, "GetSnapshot", gameID)
	defer func() { end(err) }()
	return s.next.GetSnapshot(ctx, gameID)
}

// Ping implements ports.Store.
func (s store) Ping(ctx context.Context) (err error) {
	ctx, end := s.span(ctx, "Ping", "")
	defer func() { end(err) }()
	return s.next.Ping(ctx)
}

// endPortSpan ends a span around a port call: sentinel answers that are
// ordinary outcomes (not found, a lost CAS) are attributes, not errors.
func endPortSpan(span trace.Span, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ports.ErrNotFound):
		span.SetAttributes(attribute.String("result", "not_found"))
	case errors.Is(err, ports.ErrConflict):
		span.SetAttributes(attribute.String("result", "conflict"))
	default:
		err = redact.Error(err) // span data leaves the process
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
