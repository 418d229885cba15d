package containerd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"

	"github.com/galaxy-game/rtmanager/internal/cpurate"
	"github.com/galaxy-game/rtmanager/internal/logfile"
	"github.com/galaxy-game/rtmanager/ports"
)

var (
	_ ports.LogSource   = (*Driver)(nil)
	_ ports.StatsSource = (*Driver)(nil)
)

// Logs implements ports.LogSource from the task's log file (stdout and
// stderr appended to one file by the shim, in order) and its rotated
// copies. A follow ends when the task exits. The files carry no times:
// Since and Timestamps are ports.ErrUnsupported.
func (d *Driver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("containerd: logs of %s: %w", id, err)
		}
	}()
	ctr, err := d.client.LoadContainer(ctx, id)
	if err != nil {
		return translate(err)
	}
	path := filepath.Join(logDir(d.cfg.StateDir), ctr.ID()+".log")
	var exited <-chan struct{}
	if opts.Follow {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if exited, err = taskExited(wctx, ctr); err != nil {
			return err
		}
	}
	return logfile.Read(ctx, path, opts, w, exited)
}

// taskExited returns a channel closed once ctr's task is not running (at
// once when it has none) or ctx ends.
func taskExited(ctx context.Context, ctr client.Container) (<-chan struct{}, error) {
	done := make(chan struct{})
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		close(done)
		return done, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	wait, err := task.Wait(ctx)
	if errdefs.IsNotFound(err) {
		close(done)
		return done, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	go func() {
		defer close(done)
		select {
		case <-wait:
		case <-ctx.Done():
		}
	}()
	return done, nil
}

// cpu turns task CPU counters into CPU use.
var cpu cpurate.Tracker

// Stats implements ports.StatsSource with the task's cgroup metrics. The
// first sample of a container reads the CPU counter twice, a quarter
// second apart (cpurate), to have a CPU figure. Network figures are null: tasks share the host's
// network namespace. A container without a running task is
// ports.ErrNotFound.
func (d *Driver) Stats(ctx context.Context, id string) (st ports.Stats, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("containerd: stats of %s: %w", id, err)
		}
	}()
	ctr, err := d.client.LoadContainer(ctx, id)
	if err != nil {
		return ports.Stats{}, translate(err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return ports.Stats{}, translate(err)
	}
	if s, err := task.Status(ctx); err != nil || s.Status != client.Running {
		return ports.Stats{}, fmt.Errorf("%w: the task does not run", ports.ErrNotFound)
	}
	st, _, err = sample(ctx, task)
	if err != nil {
		return ports.Stats{}, err
	}
	st.At = time.Now().UTC()
	st.CPUPercent, err = cpu.Sample(ctx, id, func() (uint64, error) {
		_, ns, err := sample(ctx, task)
		return ns, err
	})
	if err != nil {
		return ports.Stats{}, err
	}
	return st, nil
}

// unlimited is the cgroup's "no limit" (v1 reports a page-rounded max).
const unlimited = 1 << 62

// sample reads the task's metrics: the figures and the CPU time in ns.
func sample(ctx context.Context, task client.Task) (ports.Stats, uint64, error) {
	m, err := task.Metrics(ctx)
	if err != nil {
		return ports.Stats{}, 0, translate(err)
	}
	data, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return ports.Stats{}, 0, fmt.Errorf("decode metrics: %w", err)
	}
	var st ports.Stats
	pos := func(v uint64) *int64 {
		if v == 0 || v >= unlimited {
			return nil
		}
		return ports.Int64(int64(v))
	}
	switch m := data.(type) {
	case *v1.Metrics:
		if mem := m.GetMemory(); mem.GetUsage() != nil {
			used := mem.GetUsage().GetUsage()
			if in := mem.GetTotalInactiveFile(); in < used {
				used -= in
			}
			st.MemoryBytes, st.MemoryLimitBytes = ports.Int64(int64(used)), pos(mem.GetUsage().GetLimit())
		}
		if p := m.GetPids(); p != nil {
			st.Pids = ports.Int64(int64(p.GetCurrent()))
		}
		return st, m.GetCPU().GetUsage().GetTotal(), nil
	case *v2.Metrics:
		if mem := m.GetMemory(); mem != nil {
			used := mem.GetUsage()
			if in := mem.GetInactiveFile(); in < used {
				used -= in
			}
			st.MemoryBytes, st.MemoryLimitBytes = ports.Int64(int64(used)), pos(mem.GetUsageLimit())
		}
		if p := m.GetPids(); p != nil {
			st.Pids = ports.Int64(int64(p.GetCurrent()))
		}
		return st, m.GetCPU().GetUsageUsec() * 1000, nil
	}
	return ports.Stats{}, 0, fmt.Errorf("metrics of unknown type %T", data)
}
