package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Image pull metrics (SPEC §5 Images).
const (
	// MetricImagePulls counts image pulls by result (success, not_found,
	// unauthorized, unreachable, timeout, error, local_fallback).
	MetricImagePulls = "rtmanager_image_pulls_total"
	// MetricImagePullDuration is the duration of image pulls.
	MetricImagePullDuration = "rtmanager_image_pull_duration_seconds"
)

// imageInstruments registers the image pull instruments on m.
func (t *Telemetry) imageInstruments(m metric.Meter) error {
	var err error
	if t.imagePulls, err = m.Int64Counter(MetricImagePulls,
		metric.WithDescription("Image pulls by result.")); err != nil {
		return err
	}
	t.imagePullDuration, err = m.Float64Histogram(MetricImagePullDuration, metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...),
		metric.WithDescription("Duration of image pulls."))
	return err
}

// ImagePull implements ports.Telemetry.
func (t *Telemetry) ImagePull(ctx context.Context, result string, d time.Duration) {
	attrs := metric.WithAttributes(attribute.String("result", result))
	t.imagePulls.Add(ctx, 1, attrs)
	t.imagePullDuration.Record(ctx, d.Seconds(), attrs)
}
