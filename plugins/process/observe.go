package process

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/internal/cpurate"
	"github.com/galaxy-game/rtmanager/internal/logfile"
	"github.com/galaxy-game/rtmanager/ports"
)

var (
	_ ports.LogSource   = (*Driver)(nil)
	_ ports.StatsSource = (*Driver)(nil)
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// cpu turns engines' CPU times into CPU use.
var cpu cpurate.Tracker

// Logs implements ports.LogSource from the engine's log file (stdout and
// stderr both appended to it, in order) and its rotated copies; a follow
// ends when the engine exits. The file keeps no times: Since and
// Timestamps are ports.ErrUnsupported.
func (d *Driver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	r, err := d.load(id)
	if err != nil {
		return fmt.Errorf("process: logs of %s: %w: %v", id, ports.ErrUnavailable, err)
	}
	if r == nil {
		return fmt.Errorf("process: logs of %s: %w", id, ports.ErrNotFound)
	}
	var exited chan struct{}
	if opts.Follow {
		exited = make(chan struct{})
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			defer close(exited)
			if r.State == ports.StateRunning {
				_, _ = d.waitExit(wctx, r, -1)
			}
		}()
	}
	return logfile.Read(ctx, d.logPath(id), opts, w, exited)
}

// Stats implements ports.StatsSource from /proc of the engine process: CPU
// time, resident memory and threads; the memory limit when the engine has
// its own cgroup. Network figures are null: engines share the host's
// network. An engine that does not run is ports.ErrNotFound.
func (d *Driver) Stats(ctx context.Context, id string) (ports.Stats, error) {
	r, err := d.load(id)
	if err != nil {
		return ports.Stats{}, fmt.Errorf("process: stats of %s: %w: %v", id, ports.ErrUnavailable, err)
	}
	if r == nil || r.State != ports.StateRunning || !alive(r.Pid, r.StartTicks) {
		return ports.Stats{}, fmt.Errorf("process: stats of %s: %w: the engine does not run", id, ports.ErrNotFound)
	}
	var st ports.Stats
	status, err := readStatus(r.Pid)
	if err != nil {
		return ports.Stats{}, fmt.Errorf("process: stats of %s: %w: %v", id, ports.ErrNotFound, err)
	}
	if kb, ok := status["VmRSS"]; ok {
		st.MemoryBytes = ports.Int64(kb * 1024)
	}
	if n, ok := status["Threads"]; ok {
		st.Pids = ports.Int64(n)
	}
	if d.cfg.CgroupRoot != "" {
		if b, err := os.ReadFile(filepath.Join(d.cgroupPath(id), "memory.max")); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				st.MemoryLimitBytes = ports.Int64(v)
			}
		}
	}
	st.CPUPercent, err = cpu.Sample(ctx, id, func() (uint64, error) { return cpuTime(r.Pid) })
	if err != nil {
		return ports.Stats{}, fmt.Errorf("process: stats of %s: %w: %v", id, ports.ErrNotFound, err)
	}
	st.At = time.Now().UTC()
	return st, nil
}

// readStatus returns the numeric fields of /proc/<pid>/status (kB units
// dropped).
func readStatus(pid int) (map[string]int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// cpuTime returns the process's user+system CPU time in ns.
func cpuTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.cpuTicks * (1e9 / clockTicks), nil
}
