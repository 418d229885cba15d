package pluginhost_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

// benchDrivers returns the process driver through the plugin host and
// in-process, each on its own state dir.
func benchDrivers(b *testing.B) map[string]ports.RuntimeDriver {
	inproc, err := process.New(process.Config{StateDir: b.TempDir(), Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inproc.Close() })
	return map[string]ports.RuntimeDriver{
		"plugin":    newHost(b, pluginhost.Config{Path: processPlugin(b), StateDir: b.TempDir()}),
		"inprocess": inproc,
	}
}

// reportLatency reports the p50 and p99 of samples as custom metrics.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

func benchSpec(name string, image string) ports.ContainerSpec {
	return ports.ContainerSpec{
		Name: name, Image: image, HostIP: "127.0.0.1",
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "bench"},
	}
}

// BenchmarkInspect measures one Inspect of a running engine.
func BenchmarkInspect(b *testing.B) {
	image := "file://" + testenv.EngineBinary(b)
	for _, name := range []string{"inprocess", "plugin"} {
		b.Run(name, func(b *testing.B) {
			d := benchDrivers(b)[name]
			ctx := context.Background()
			c, err := d.Start(ctx, benchSpec("bench-inspect", image))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Remove(ctx, c.ID)
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				begin := time.Now()
				if _, err := d.Inspect(ctx, c.ID); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(begin))
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}

// BenchmarkStartStop measures Start then Stop (SIGTERM, the engine exits at
// once) of one engine; Remove runs outside the timer.
func BenchmarkStartStop(b *testing.B) {
	image := "file://" + testenv.EngineBinary(b)
	for _, name := range []string{"inprocess", "plugin"} {
		b.Run(name, func(b *testing.B) {
			d := benchDrivers(b)[name]
			ctx := context.Background()
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				begin := time.Now()
				c, err := d.Start(ctx, benchSpec(fmt.Sprintf("bench-ss-%d", i), image))
				if err != nil {
					b.Fatal(err)
				}
				if err := d.Stop(ctx, c.ID, 10*time.Second); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(begin))
				b.StopTimer()
				if err := d.Remove(ctx, c.ID); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}

// BenchmarkCapabilities measures the bare round trip: the process driver
// answers Capabilities from memory.
func BenchmarkCapabilities(b *testing.B) {
	for _, name := range []string{"inprocess", "plugin"} {
		b.Run(name, func(b *testing.B) {
			d := benchDrivers(b)[name]
			ctx := context.Background()
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				begin := time.Now()
				if _, err := d.Capabilities(ctx); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(begin))
			}
			b.StopTimer()
			reportLatency(b, samples)
		})
	}
}
