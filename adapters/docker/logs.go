package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/ports"
)

var (
	_ ports.LogSource   = (*Driver)(nil)
	_ ports.StatsSource = (*Driver)(nil)
)

// Logs implements ports.LogSource with the Engine's logs API: stdout and
// stderr come multiplexed in one stream, in the order the engine wrote
// them, and are demultiplexed (stdcopy) into w. A follow ends when the
// daemon closes the stream, which it does when the container exits.
func (d *Driver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) (err error) {
	defer wrap(&err, "docker: logs of %s", id)
	if err := opts.Validate(); err != nil {
		return err
	}
	o := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow,
		Timestamps: opts.Timestamps, Tail: "all"}
	if opts.Tail >= 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	body, err := d.cli.ContainerLogs(ctx, id, o)
	if err != nil {
		return translate(err)
	}
	defer body.Close()
	if _, err := stdcopy.StdCopy(w, w, body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return translate(err)
	}
	return nil
}

// cpuSample is the CPU counters of one stats answer, kept to compute the
// CPU use of the next one.
type cpuSample struct {
	container, system uint64
	at                time.Time
}

// cpuSamples remembers the last CPU sample per container so a one-shot
// stats answer (which carries no previous sample) can be turned into a
// CPU percentage. It is bounded: samples older than cpuSampleTTL are
// dropped when a new one is stored.
type cpuSamples struct {
	mu   sync.Mutex
	last map[string]cpuSample
}

const (
	cpuSampleTTL = 5 * time.Minute
	// maxCPUSamples bounds the cache even when every sample is fresh.
	maxCPUSamples = 4096
)

var samples cpuSamples

// swap stores s for id and returns the previous sample, if fresh.
func (c *cpuSamples) swap(id string, s cpuSample) (cpuSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = make(map[string]cpuSample)
	}
	prev, ok := c.last[id]
	if len(c.last) >= maxCPUSamples {
		for k, v := range c.last {
			if s.at.Sub(v.at) > cpuSampleTTL || len(c.last) >= maxCPUSamples {
				delete(c.last, k)
			}
		}
	}
	c.last[id] = s
	return prev, ok && s.at.Sub(prev.at) < cpuSampleTTL
}

// Stats implements ports.StatsSource with one stats answer of the Engine.
// The first sample of a container asks the daemon for a previous sample
// too (about a second), later ones compute CPU use against the sample
// before. A container that does not run is ports.ErrNotFound.
func (d *Driver) Stats(ctx context.Context, id string) (st ports.Stats, err error) {
	defer wrap(&err, "docker: stats of %s", id)
	_, known := samples.peek(id)
	res, err := d.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{IncludePreviousSample: !known})
	if err != nil {
		return ports.Stats{}, translate(err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&s); err != nil {
		return ports.Stats{}, translate(err)
	}
	if s.Read.IsZero() || s.Read.Year() < 2000 {
		return ports.Stats{}, fmt.Errorf("%w: the container does not run", ports.ErrNotFound)
	}
	return statsOf(id, s), nil
}

// peek reports the last sample of id.
func (c *cpuSamples) peek(id string) (cpuSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.last[id]
	return s, ok
}

// statsOf translates a stats answer; figures the daemon left out are nil.
func statsOf(id string, s container.StatsResponse) ports.Stats {
	out := ports.Stats{At: s.Read.UTC()}
	cur := cpuSample{container: s.CPUStats.CPUUsage.TotalUsage, system: s.CPUStats.SystemUsage, at: s.Read}
	prev, ok := samples.swap(id, cur)
	if !s.PreRead.IsZero() && s.PreRead.Year() >= 2000 && s.PreCPUStats.SystemUsage > 0 {
		prev, ok = cpuSample{container: s.PreCPUStats.CPUUsage.TotalUsage, system: s.PreCPUStats.SystemUsage, at: s.PreRead}, true
	}
	if ok && cur.system > prev.system && cur.container >= prev.container {
		cpus := float64(s.CPUStats.OnlineCPUs)
		if cpus == 0 {
			cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
		}
		if cpus > 0 {
			out.CPUPercent = ports.Float64(float64(cur.container-prev.container) / float64(cur.system-prev.system) * cpus * 100)
		}
	}
	if s.MemoryStats.Usage > 0 {
		used := s.MemoryStats.Usage
		// As the docker CLI does: page cache the kernel can drop is not use.
		for _, k := range []string{"total_inactive_file", "inactive_file"} {
			if v, ok := s.MemoryStats.Stats[k]; ok && v < used {
				used -= v
				break
			}
		}
		out.MemoryBytes = ports.Int64(int64(used))
	}
	// Docker reports the host's memory as the limit of an unlimited container.
	if s.MemoryStats.Limit > 0 {
		out.MemoryLimitBytes = ports.Int64(int64(s.MemoryStats.Limit))
	}
	if s.PidsStats.Current > 0 {
		out.Pids = ports.Int64(int64(s.PidsStats.Current))
	}
	if s.Networks != nil {
		var rx, tx uint64
		for _, n := range s.Networks {
			rx += n.RxBytes
			tx += n.TxBytes
		}
		out.NetRxBytes, out.NetTxBytes = ports.Int64(int64(rx)), ports.Int64(int64(tx))
	}
	return out
}
