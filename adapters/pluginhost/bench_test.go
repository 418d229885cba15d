package pluginhost_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

// benchDrivers returns the process driver in-process, behind the plugin
// host over the frame channel (protocol 3, "plugin") and behind the plugin
// host over gRPC (the same driver served as a protocol 2 plugin,
// "plugin-grpc"), each on its own state dir.
func benchDrivers(b *testing.B) map[string]ports.RuntimeDriver {
	inproc, err := process.New(process.Config{StateDir: b.TempDir(), Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { inproc.Close() })
	return map[string]ports.RuntimeDriver{
		"plugin":      newHost(b, pluginhost.Config{Path: processPlugin(b), StateDir: b.TempDir()}),
		"plugin-grpc": newHost(b, pluginhost.Config{Path: buildPlugin(b, "adapters/pluginhost/testdata/oldplugin"), Args: []string{"2"}, StateDir: b.TempDir()}),
		"inprocess":   inproc,
	}
}

// benchNames are the designs in benchDrivers, in a fixed order.
var benchNames = []string{"inprocess", "plugin-grpc", "plugin"}

// cpuMeter reads the CPU time used so far by this process (the host) and
// by the plugin process behind d (zero for an in-process driver).
type cpuMeter struct {
	pid int
}

func newCPUMeter(d ports.RuntimeDriver) cpuMeter {
	if h, ok := d.(*pluginhost.Host); ok {
		return cpuMeter{pid: h.PluginPID()}
	}
	return cpuMeter{}
}

// read returns the host's and the plugin's CPU time (user + system).
func (m cpuMeter) read(b *testing.B) (host, plugin time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	host = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if m.pid == 0 {
		return host, 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's ")": state is the 3rd field of the
	// line, utime the 14th and stime the 15th, in clock ticks (100/s).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return host, time.Duration(ut+st) * 10 * time.Millisecond
}

// reportCPU reports the CPU µs per call of the host and the plugin.
func reportCPU(b *testing.B, prefix string, host, plugin time.Duration, calls int) {
	b.ReportMetric(float64(host.Microseconds())/float64(calls), prefix+"host-cpu-µs/call")
	b.ReportMetric(float64(plugin.Microseconds())/float64(calls), prefix+"plugin-cpu-µs/call")
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
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			d := benchDrivers(b)[name]
			ctx := context.Background()
			c, err := d.Start(ctx, benchSpec("bench-inspect", image))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Remove(ctx, c.ID)
			samples := make([]time.Duration, 0, b.N)
			cpu := newCPUMeter(d)
			h0, p0 := cpu.read(b)
			b.ResetTimer()
			for range b.N {
				begin := time.Now()
				if _, err := d.Inspect(ctx, c.ID); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(begin))
			}
			b.StopTimer()
			h1, p1 := cpu.read(b)
			reportLatency(b, samples)
			reportCPU(b, "", h1-h0, p1-p0, b.N)
		})
	}
}

// BenchmarkStartStop measures Start then Stop (SIGTERM, the engine exits at
// once) of one engine; Remove runs outside the timer.
func BenchmarkStartStop(b *testing.B) {
	image := "file://" + testenv.EngineBinary(b)
	for _, name := range benchNames {
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
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			d := benchDrivers(b)[name]
			ctx := context.Background()
			samples := make([]time.Duration, 0, b.N)
			cpu := newCPUMeter(d)
			h0, p0 := cpu.read(b)
			b.ResetTimer()
			for range b.N {
				begin := time.Now()
				if _, err := d.Capabilities(ctx); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(begin))
			}
			b.StopTimer()
			h1, p1 := cpu.read(b)
			reportLatency(b, samples)
			reportCPU(b, "", h1-h0, p1-p0, b.N)
		})
	}
}

// BenchmarkStartStopPaired measures P5's second half: Start then Stop of
// one engine on the process driver in-process, behind the plugin host over
// the frame channel ("plugin") and over gRPC ("grpc", a protocol 2 plugin),
// all on the same runtime (OS processes, same engine binary), rotating
// their order in every iteration so machine load hits all alike. Remove
// runs outside the samples. It reports the p50 of each, the ratios of the
// p50s, the extra p50 of Start and of Stop over in-process, and the CPU
// µs per start+stop of the host and the plugin process.
func BenchmarkStartStopPaired(b *testing.B) {
	image := "file://" + testenv.EngineBinary(b)
	drivers := benchDrivers(b)
	ctx := context.Background()
	samples := map[string][]time.Duration{} // "<driver>", "<driver>/start", "<driver>/stop"
	hostCPU, pluginCPU := map[string]time.Duration{}, map[string]time.Duration{}
	names := slices.Clone(benchNames)
	b.ResetTimer()
	for i := range b.N {
		names = append(names[1:], names[0])
		for _, name := range names {
			d := drivers[name]
			cpu := newCPUMeter(d)
			h0, p0 := cpu.read(b)
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
			h1, p1 := cpu.read(b)
			hostCPU[name] += h1 - h0
			pluginCPU[name] += p1 - p0
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
	in := p50(samples["inprocess"])
	b.ReportMetric(in, "inprocess-p50-µs")
	for name, label := range map[string]string{"plugin": "plugin", "plugin-grpc": "grpc"} {
		pl := p50(samples[name])
		b.ReportMetric(pl, label+"-p50-µs")
		b.ReportMetric(pl/in, label+"/inprocess")
		for _, part := range []string{"start", "stop"} {
			b.ReportMetric(p50(samples[name+"/"+part])-p50(samples["inprocess/"+part]), label+"-extra-"+part+"-p50-µs")
		}
	}
	for name, label := range map[string]string{"inprocess": "inprocess-", "plugin": "plugin-", "plugin-grpc": "grpc-"} {
		reportCPU(b, label, hostCPU[name], pluginCPU[name], b.N)
	}
}

// BenchmarkInspectPaired measures Inspect of a running engine on the three
// designs of benchDrivers side by side: blocks of 100 calls, the designs'
// order rotated every round, so machine load hits all alike. It reports
// p50 and p99 and the CPU µs per call of the host and the plugin for each.
func BenchmarkInspectPaired(b *testing.B) {
	image := "file://" + testenv.EngineBinary(b)
	drivers := benchDrivers(b)
	ctx := context.Background()
	ids := map[string]string{}
	for name, d := range drivers {
		c, err := d.Start(ctx, benchSpec("bench-inspect-"+name, image))
		if err != nil {
			b.Fatal(err)
		}
		defer d.Remove(ctx, c.ID)
		ids[name] = c.ID
	}
	const block = 100
	samples := map[string][]time.Duration{}
	hostCPU, pluginCPU := map[string]time.Duration{}, map[string]time.Duration{}
	names := slices.Clone(benchNames)
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		names = append(names[1:], names[0])
		for _, name := range names {
			d := drivers[name]
			cpu := newCPUMeter(d)
			h0, p0 := cpu.read(b)
			for range min(block, b.N-done) {
				begin := time.Now()
				if _, err := d.Inspect(ctx, ids[name]); err != nil {
					b.Fatal(err)
				}
				samples[name] = append(samples[name], time.Since(begin))
			}
			h1, p1 := cpu.read(b)
			hostCPU[name] += h1 - h0
			pluginCPU[name] += p1 - p0
		}
	}
	b.StopTimer()
	for name, label := range map[string]string{"inprocess": "inprocess-", "plugin": "plugin-", "plugin-grpc": "grpc-"} {
		s := samples[name]
		slices.Sort(s)
		at := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))].Nanoseconds()) / 1e3 }
		b.ReportMetric(at(0.50), label+"p50-µs")
		b.ReportMetric(at(0.99), label+"p99-µs")
		reportCPU(b, label, hostCPU[name], pluginCPU[name], len(s))
	}
}

// envEcho makes the test binary the echo process of BenchmarkSocketFloor.
const envEcho = "RTM_TEST_ECHO"

// runEcho echoes every 32-byte message on fd 3 until it closes.
func runEcho() {
	f := os.NewFile(3, "echo")
	var buf [32]byte
	for {
		if _, err := io.ReadFull(f, buf[:]); err != nil {
			os.Exit(0)
		}
		if _, err := f.Write(buf[:]); err != nil {
			os.Exit(0)
		}
	}
}

// BenchmarkSocketFloor measures the floor of any plugin call: a 32-byte
// ping-pong with another process over a Unix socket pair, the host side
// through Go's netpoller as the frame channel's is, the echo side a
// blocking read loop. Run it in the same run as the plugin benchmarks.
func BenchmarkSocketFloor(b *testing.B) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	hostFile, far := os.NewFile(uintptr(fds[0]), "host"), os.NewFile(uintptr(fds[1]), "far")
	conn, err := net.FileConn(hostFile)
	hostFile.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envEcho+"=1")
	cmd.ExtraFiles = []*os.File{far}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	far.Close()
	defer func() { conn.Close(); _ = cmd.Wait() }()
	var msg, reply [32]byte
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		begin := time.Now()
		if _, err := conn.Write(msg[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, reply[:]); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(begin))
	}
	b.StopTimer()
	reportLatency(b, samples)
}
