// Package telemetry implements ports.Telemetry with OpenTelemetry: metrics
// go to a Prometheus registry of their own (served by Handler at /metrics),
// traces to an OTLP gRPC collector when one is configured. It also offers
// middleware that times and traces runtime driver and store calls, and a
// slog handler that stamps trace and span ids on every log line.
//
// The Prometheus names are exactly those of SPEC §9: every instrument is
// created under its final name (rtmanager_operations_total,
// rtmanager_operation_duration_seconds, …), which the exporter's suffix
// rules leave unchanged, and the exporter's target_info metric and
// otel_scope_* labels are switched off.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/redact"
	"github.com/galaxy-game/rtmanager/ports"
)

// Metric names of SPEC §9.
const (
	MetricOperations        = "rtmanager_operations_total"
	MetricOperationDuration = "rtmanager_operation_duration_seconds"
	MetricLeaseAcquire      = "rtmanager_lease_acquire_duration_seconds"
	MetricDriverCall        = "rtmanager_driver_call_duration_seconds"
	MetricHealthEvents      = "rtmanager_health_events_total"
	MetricStreamPending     = "rtmanager_stream_pending"
	MetricRuntimes          = "rtmanager_runtimes"
	// MetricPanics counts panics recovered by ports.Guard, by where.
	MetricPanics = "rtmanager_panics_total"
)

// instrumentationName is the meter and tracer name.
const instrumentationName = "github.com/galaxy-game/rtmanager"

// observeTimeout bounds one gauge callback during a scrape.
const observeTimeout = 2 * time.Second

// durationBuckets are the histogram buckets, in seconds: lifecycle
// operations take from milliseconds (a replay) to tens of seconds (a start
// waiting for its engine).
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Config configures New.
type Config struct {
	// ServiceName is the service.name resource attribute; empty means
	// "rtmanager".
	ServiceName string
	// Version is the service.version resource attribute.
	Version string
	// OTLPEndpoint is the OTLP gRPC collector for traces, as in
	// OTEL_EXPORTER_OTLP_ENDPOINT: a URL ("http://collector:4317" is
	// plaintext, "https://…" TLS) or host:port (TLS). Empty means spans are
	// created, so trace ids reach the logs, but exported nowhere.
	OTLPEndpoint string
	// Logger reports failing gauge callbacks; nil means slog.Default().
	Logger *slog.Logger
	// SpanExporter, when set, receives every finished span synchronously
	// (besides OTLP): for tests and for embedding rtmanager.
	SpanExporter sdktrace.SpanExporter
}

// Telemetry is the OpenTelemetry implementation of ports.Telemetry. Its
// methods are safe for concurrent use.
type Telemetry struct {
	log      *slog.Logger
	registry *prometheus.Registry
	meters   *sdkmetric.MeterProvider
	tracers  *sdktrace.TracerProvider
	tracer   trace.Tracer

	operations   metric.Int64Counter
	opDuration   metric.Float64Histogram
	leaseAcquire metric.Float64Histogram
	driverCall   metric.Float64Histogram
	healthEvents metric.Int64Counter
	panics       metric.Int64Counter

	imagePulls        metric.Int64Counter
	imagePullDuration metric.Float64Histogram

	mu       sync.Mutex
	pending  func(context.Context) (map[string]int64, error)
	runtimes func(context.Context) (map[core.Status]int, error)
}

var _ ports.Telemetry = (*Telemetry)(nil)

// New builds the meter and tracer providers. Errors: a bad OTLP endpoint
// or an instrument that cannot be registered.
func New(ctx context.Context, cfg Config) (_ *Telemetry, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("telemetry: %w", err)
		}
	}()
	if cfg.ServiceName == "" {
		cfg.ServiceName = "rtmanager"
	}
	t := &Telemetry{log: cfg.Logger, registry: prometheus.NewRegistry()}
	if t.log == nil {
		t.log = slog.Default()
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}

	exp, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	t.meters = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))

	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint != "" {
		eopt, err := endpointOption(cfg.OTLPEndpoint)
		if err != nil {
			_ = t.meters.Shutdown(ctx)
			return nil, err
		}
		texp, err := otlptracegrpc.New(ctx, eopt)
		if err != nil {
			_ = t.meters.Shutdown(ctx)
			return nil, fmt.Errorf("otlp trace exporter %q: %w", redact.URL(cfg.OTLPEndpoint), redact.Error(err))
		}
		topts = append(topts, sdktrace.WithBatcher(texp))
	}
	if cfg.SpanExporter != nil {
		topts = append(topts, sdktrace.WithSyncer(cfg.SpanExporter))
	}
	t.tracers = sdktrace.NewTracerProvider(topts...)
	t.tracer = t.tracers.Tracer(instrumentationName)

	if err := t.instruments(); err != nil {
		_ = t.Shutdown(ctx)
		return nil, err
	}
	return t, nil
}

// endpointOption turns an OTLP endpoint (URL or host:port) into the
// exporter option, rejecting what the exporter would silently ignore.
func endpointOption(endpoint string) (otlptracegrpc.Option, error) {
	if !strings.Contains(endpoint, "://") {
		if _, _, err := net.SplitHostPort(endpoint); err != nil {
			return nil, fmt.Errorf("otlp endpoint %q: want a URL or host:port: %w", redact.String(endpoint), redact.Error(err))
		}
		return otlptracegrpc.WithEndpoint(endpoint), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint: %w", redact.Error(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlp endpoint %q: want http:// or https:// with a host", redact.URL(endpoint))
	}
	return otlptracegrpc.WithEndpointURL(endpoint), nil
}

// instruments creates every instrument and the gauge callbacks.
func (t *Telemetry) instruments() error {
	m := t.meters.Meter(instrumentationName)
	buckets := metric.WithExplicitBucketBoundaries(durationBuckets...)
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	t.operations, err = m.Int64Counter(MetricOperations,
		metric.WithDescription("Finished lifecycle operation attempts."))
	add(err)
	t.opDuration, err = m.Float64Histogram(MetricOperationDuration, metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of lifecycle operations."))
	add(err)
	t.leaseAcquire, err = m.Float64Histogram(MetricLeaseAcquire, metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of per-game lease acquisitions."))
	add(err)
	t.driverCall, err = m.Float64Histogram(MetricDriverCall, metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of runtime driver calls."))
	add(err)
	t.healthEvents, err = m.Int64Counter(MetricHealthEvents,
		metric.WithDescription("Published health events."))
	add(err)
	t.panics, err = m.Int64Counter(MetricPanics,
		metric.WithDescription("Panics recovered in stream workers and background loops."))
	add(err)
	add(t.imageInstruments(m))
	_, err = m.Int64ObservableGauge(MetricStreamPending,
		metric.WithDescription("Pending (delivered, unacknowledged) entries per job stream."),
		metric.WithInt64Callback(t.observePending))
	add(err)
	_, err = m.Int64ObservableGauge(MetricRuntimes,
		metric.WithDescription("Runtime records per status."),
		metric.WithInt64Callback(t.observeRuntimes))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("instruments: %w", err)
	}
	return nil
}

// Handler returns the Prometheus /metrics handler of the meter provider's
// registry.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Shutdown flushes pending spans and metrics and stops both providers.
// Errors: the exporters' flush errors, or ctx's.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	err := errors.Join(t.tracers.Shutdown(ctx), t.meters.Shutdown(ctx))
	if err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// OperationDone implements ports.Telemetry.
func (t *Telemetry) OperationDone(ctx context.Context, e core.OperationEntry, d time.Duration) {
	t.operations.Add(ctx, 1, metric.WithAttributes(
		attribute.String("op_kind", string(e.OpKind)),
		attribute.String("outcome", string(e.Outcome)),
		attribute.String("error_code", string(e.ErrorCode)),
		attribute.String("op_source", string(e.OpSource))))
	t.opDuration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("op_kind", string(e.OpKind))))
}

// LeaseAcquire implements ports.Telemetry.
func (t *Telemetry) LeaseAcquire(ctx context.Context, d time.Duration) {
	t.leaseAcquire.Record(ctx, d.Seconds())
}

// HealthEvent implements ports.Telemetry.
func (t *Telemetry) HealthEvent(ctx context.Context, typ core.HealthEventType) {
	t.healthEvents.Add(ctx, 1, metric.WithAttributes(attribute.String("event_type", string(typ))))
}

// Panicked implements ports.Telemetry.
func (t *Telemetry) Panicked(ctx context.Context, where string) {
	t.panics.Add(ctx, 1, metric.WithAttributes(attribute.String("where", where)))
}

// Span implements ports.Telemetry. A failure ends the span with an error
// status and an error_code attribute; a replay_no_op is not a failure.
func (t *Telemetry) Span(ctx context.Context, name string) (context.Context, func(error)) {
	ctx, span := t.tracer.Start(ctx, name)
	return ctx, func(err error) { endSpan(span, err) }
}

// endSpan records err on span (if it is a failure) and ends it.
func endSpan(span trace.Span, err error) {
	if code := core.CodeOf(err); err != nil && !code.Success() {
		span.SetAttributes(attribute.String("error_code", string(code)))
		err = redact.Error(err) // span data leaves the process
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// ObservePending sets the source of the rtmanager_stream_pending gauge,
// read at every scrape; a later call replaces an earlier one.
func (t *Telemetry) ObservePending(fn func(context.Context) (map[string]int64, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = fn
}

// ObserveRuntimes sets the source of the rtmanager_runtimes gauge, read at
// every scrape; a later call replaces an earlier one. Every status is
// reported, absent ones as 0.
func (t *Telemetry) ObserveRuntimes(fn func(context.Context) (map[core.Status]int, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.runtimes = fn
}

func (t *Telemetry) observePending(ctx context.Context, o metric.Int64Observer) error {
	t.mu.Lock()
	fn := t.pending
	t.mu.Unlock()
	if m, ok := readGauge(ctx, t.log, "stream pending", fn); ok {
		for stream, n := range m {
			o.Observe(n, metric.WithAttributes(attribute.String("stream", stream)))
		}
	}
	return nil
}

func (t *Telemetry) observeRuntimes(ctx context.Context, o metric.Int64Observer) error {
	t.mu.Lock()
	fn := t.runtimes
	t.mu.Unlock()
	if m, ok := readGauge(ctx, t.log, "runtimes", fn); ok {
		for _, s := range core.Statuses() {
			o.Observe(int64(m[s]), metric.WithAttributes(attribute.String("status", string(s))))
		}
	}
	return nil
}

// readGauge reads a gauge source within observeTimeout. ok is false when
// there is no source or it failed: a failed source leaves the gauge out of
// this scrape rather than reporting a false zero.
func readGauge[K comparable, V any](ctx context.Context, log *slog.Logger, what string,
	fn func(context.Context) (map[K]V, error)) (_ map[K]V, ok bool) {
	if fn == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	m, err := fn(ctx)
	if err != nil {
		log.WarnContext(ctx, "observe "+what, "err", err)
		return nil, false
	}
	return m, true
}
