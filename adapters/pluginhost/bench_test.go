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

// BenchmarkStartStopPaired measures P5's second half: Start then Stop of
// one engine on the process driver in-process and the same driver behind
// the plugin host (same runtime: OS processes, same engine binary),
// alternating the two in every iteration (and their order between
// iterations) so machine load hits both alike. Remove runs outside the
// samples. It reports the p50 of each and the ratio of the p50s.
func BenchmarkStartStopPaired(b *testing.B) {
	image := "file://" + testenv.EngineBinary(b)
	drivers := benchDrivers(b)
	ctx := context.Background()
	samples := map[string][]time.Duration{} // "<driver>", "<driver>/start", "<driver>/stop"
	names := []string{"inprocess", "plugin"}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 1 {
			names[0], names[1] = names[1], names[0]
		}
		for _, name := range names {
			d := drivers[name]
			begin := time.Now()
			c, err := d.Start(ctx, benchSpec(fmt.Sprintf("bench-pair-%s-%d", name, i), image))
			if err != nil {
				b.Fatal(err)
			}
			started := time.Now()
			if err := d.Stop(ctx, c.ID, 10*time.Second); err != nil {
				b.Fatal(err)
			}
			samples[name] = append(samples[name], time.Since(begin))
			samples[name+"/start"] = append(samples[name+"/start"], started.Sub(begin))
			samples[name+"/stop"] = append(samples[name+"/stop"], time.Since(started))
			if err := d.Remove(ctx, c.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	p50 := func(s []time.Duration) float64 {
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds())
	}
	in, pl := p50(samples["inprocess"]), p50(samples["plugin"])
	b.ReportMetric(in, "inprocess-p50-µs")
	b.ReportMetric(pl, "plugin-p50-µs")
	b.ReportMetric(pl/in, "plugin/inprocess")
	for _, part := range []string{"start", "stop"} {
		b.ReportMetric(p50(samples["plugin/"+part])-p50(samples["inprocess/"+part]), "plugin-extra-"+part+"-p50-µs")
	}
}
