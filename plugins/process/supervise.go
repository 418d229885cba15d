package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/galaxy-game/rtmanager/ports"
)

// launch starts the engine process for spec and records it. Called under
// withLock.
func (d *Driver) launch(spec ports.ContainerSpec, path string) (*record, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("allocate port: %w: %w", err, ports.ErrUnavailable)
	}
	id := newID()
	logFile, err := os.OpenFile(d.logPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine log: %w", err)
	}
	defer logFile.Close()

	cmd, release, err := d.command(spec, path, id)
	if err != nil {
		os.Remove(d.logPath(id))
		return nil, err
	}
	limited := spec.Limits.MemoryBytes > 0
	cmd.Env = engineEnv(spec, port)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	err = cmd.Start()
	release()
	if err != nil {
		os.Remove(d.logPath(id))
		d.releaseCgroup(id)
		return nil, fmt.Errorf("exec %s: %w", path, err)
	}
	now := time.Now().UTC()
	st, err := readStat(cmd.Process.Pid)
	rec := &record{
		ID: id, Name: spec.Name, Image: spec.Image, Path: path, Labels: cloneMap(spec.Labels),
		Port: port, Pid: cmd.Process.Pid, StartTicks: st.startTicks,
		OwnerPid: d.pid, OwnerStartTicks: d.self.startTicks, State: ports.StateRunning,
		MemoryLimited: limited, CreatedAt: now, StartedAt: now,
	}
	if err == nil {
		err = d.save(rec)
	}
	if err != nil {
		// Undo: the child is ours and unreaped, so its group id is safe.
		_ = killGroup(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		d.releaseCgroup(id)
		_ = d.deleteFiles(id)
		return nil, fmt.Errorf("record container: %w", err)
	}
	w := &watch{done: make(chan struct{})}
	d.watched[id] = w
	go d.wait(rec, cmd, w)
	return rec, nil
}

// engineEnv is spec.Env plus GAME_ID (from the label when absent) and PORT.
func engineEnv(spec ports.ContainerSpec, port int) []string {
	env := make([]string, 0, len(spec.Env)+3)
	for k, v := range spec.Env {
		if k != "PORT" {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := spec.Env["GAME_ID"]; !ok && spec.Labels[ports.LabelGameID] != "" {
		env = append(env, "GAME_ID="+spec.Labels[ports.LabelGameID])
	}
	if _, ok := spec.Env["PATH"]; !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return append(env, "PORT="+strconv.Itoa(port))
}

// wait supervises a child: it blocks until the child has exited without
// reaping it (WNOWAIT), ends what is left of its process group, then reaps
// it and records the exit under withLock, the lock every signal is sent
// under, so a signal never reaches a reused pid.
func (d *Driver) wait(started *record, cmd *exec.Cmd, w *watch) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, started.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	d.recordExit(started, w, func() (int, bool) {
		// The engine is a zombie, so its pid still names its group: what
		// it left running there dies with it, as in a container.
		_ = killGroup(started.Pid, syscall.SIGKILL)
		code := exitCode(cmd.Wait())
		return code, code != 0 && (d.cgroupOOM(started.ID) || started.MemoryLimited && logSaysOOM(d.logPath(started.ID)))
	})
}

// recordExit records the exit of started's engine under withLock (exit, run
// under the lock, gives its code and whether it was OOM-killed), frees its
// cgroup and watch, and reports it.
func (d *Driver) recordExit(started *record, w *watch, exit func() (code int, oom bool)) {
	var rec *record
	err := d.withLock(func() error {
		code, oom := exit()
		rec = d.finish(started, code, oom)
		d.releaseCgroup(started.ID)
		delete(d.watched, started.ID)
		close(w.done)
		return nil
	})
	if err != nil {
		d.log.Error("record engine exit", "id", started.ID, "error", err)
	}
	d.exited(rec)
}

// exitCode is the exit status, 128+signal for a signalled process (as
// Docker reports), or -1 when unknown.
func exitCode(err error) int {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	default:
		return -1
	}
}

// finish records that the engine of started exited with code, unless its
// file was removed or now names another process. It returns the record to
// report. Called under withLock.
func (d *Driver) finish(started *record, code int, oom bool) *record {
	r, err := d.load(started.ID)
	if err != nil || r == nil || r.Pid != started.Pid || r.StartTicks != started.StartTicks {
		r = started // removed meanwhile: report, do not resurrect the file
		r.State, r.ExitCode, r.OOMKilled, r.FinishedAt = ports.StateExited, code, oom, time.Now().UTC()
		return r
	}
	if r.State == ports.StateRunning {
		r.State, r.ExitCode, r.OOMKilled, r.FinishedAt = ports.StateExited, code, oom, time.Now().UTC()
		if err := d.save(r); err != nil {
			d.log.Error("record engine exit", "id", r.ID, "error", err)
		}
	}
	return r
}

// poll watches an adopted engine, which is not a child, through /proc.
func (d *Driver) poll(started *record, w *watch) {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for alive(started.Pid, started.StartTicks) {
		select {
		case <-d.closed:
			d.mu.Lock()
			delete(d.watched, started.ID)
			d.mu.Unlock()
			return
		case <-t.C:
		}
	}
	d.recordExit(started, w, func() (int, bool) { return -1, d.cgroupOOM(started.ID) })
}

// adopt takes over the running engines whose owning driver process is gone:
// a live engine is polled, a dead one recorded as exited with code -1.
func (d *Driver) adopt() error {
	var gone []*record
	err := d.withLock(func() error {
		recs, err := d.scan()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.State != ports.StateRunning || d.watched[r.ID] != nil || alive(r.OwnerPid, r.OwnerStartTicks) {
				continue
			}
			if !alive(r.Pid, r.StartTicks) {
				gone = append(gone, d.finish(r, -1, false))
				continue
			}
			r.OwnerPid, r.OwnerStartTicks = d.pid, d.self.startTicks
			if err := d.save(r); err != nil {
				return err
			}
			w := &watch{done: make(chan struct{})}
			d.watched[r.ID] = w
			d.log.Info("adopted running engine", "id", r.ID, "name", r.Name, "pid", r.Pid)
			go d.poll(r, w)
		}
		return nil
	})
	for _, r := range gone {
		d.log.Info("engine exited while no driver watched it", "id", r.ID, "name", r.Name)
		d.exited(r)
	}
	return err
}

func (d *Driver) adoptLoop() {
	t := time.NewTicker(d.cfg.AdoptInterval)
	defer t.Stop()
	for {
		select {
		case <-d.closed:
			return
		case <-t.C:
			if err := d.adopt(); err != nil {
				d.log.Warn("adopt orphaned engines", "error", err)
			}
		}
	}
}

// settle returns r as it stands: a record still saying running whose
// process is gone is reported exited. When this instance watches it, the
// exit is being recorded right now, so settle waits for it and rereads;
// otherwise the owner will record the code, and settle reports -1.
func (d *Driver) settle(ctx context.Context, r *record) (*record, error) {
	if r.State != ports.StateRunning || alive(r.Pid, r.StartTicks) {
		return r, nil
	}
	d.mu.Lock()
	w := d.watched[r.ID]
	d.mu.Unlock()
	if w != nil {
		select {
		case <-w.done:
			return d.load(r.ID)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := *r
	c.State, c.ExitCode, c.FinishedAt = ports.StateExited, -1, time.Now().UTC()
	return &c, nil
}

// waitExit waits until the engine of r has exited, up to timeout (negative:
// no limit). It reports whether it exited.
func (d *Driver) waitExit(ctx context.Context, r *record, timeout time.Duration) (bool, error) {
	var expire <-chan time.Time
	if timeout >= 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expire = timer.C
	}
	d.mu.Lock()
	w := d.watched[r.ID]
	d.mu.Unlock()
	if w != nil {
		select {
		case <-w.done:
			return true, nil
		case <-expire:
			return false, nil
		case <-ctx.Done():
			return false, fmt.Errorf("wait for %s to exit: %w", r.ID, ctx.Err())
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for alive(r.Pid, r.StartTicks) {
		select {
		case <-tick.C:
		case <-expire:
			return false, nil
		case <-ctx.Done():
			return false, fmt.Errorf("wait for %s to exit: %w", r.ID, ctx.Err())
		}
	}
	return true, nil
}

func (d *Driver) exited(rec *record) {
	if rec == nil {
		return
	}
	d.log.Info("engine exited", "id", rec.ID, "name", rec.Name, "exit_code", rec.ExitCode, "oom", rec.OOMKilled)
	if rec.OOMKilled {
		d.emit(ports.Event{Type: ports.EventOOM, ContainerID: rec.ID, Labels: cloneMap(rec.Labels), At: rec.FinishedAt})
	}
	d.emit(ports.Event{Type: ports.EventExited, ContainerID: rec.ID, Labels: cloneMap(rec.Labels), ExitCode: rec.ExitCode, At: rec.FinishedAt})
}

// logSaysOOM reports whether the last 64 KiB of an engine log mention running
// out of memory (Go: "fatal error: out of memory"; C: "Cannot allocate
// memory", "std::bad_alloc").
func logSaysOOM(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 64<<10 {
		_, _ = f.Seek(-64<<10, io.SeekEnd)
	}
	tail, _ := io.ReadAll(f)
	for _, s := range []string{"out of memory", "Cannot allocate memory", "bad_alloc"} {
		if bytes.Contains(tail, []byte(s)) {
			return true
		}
	}
	return false
}

// signal sends sig to the process group of the running container id,
// under withLock. It returns the record when the container was running, nil
// when it had exited, and ErrNotFound when it does not exist.
func (d *Driver) signal(id string, sig syscall.Signal) (*record, error) {
	var running *record
	err := d.withLock(func() error {
		r, err := d.load(id)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("signal %s: %w", id, ports.ErrNotFound)
		}
		if r.State != ports.StateRunning {
			return nil
		}
		running = r
		// A driver's child is unreaped while its file says running (the
		// owner reaps under this lock); for an engine whose owner died the
		// start time is checked right before the signal.
		if st, err := readStat(r.Pid); err != nil || st.startTicks != r.StartTicks {
			return nil // gone: its owner or an adopter records the exit
		}
		return killGroup(r.Pid, sig)
	})
	return running, err
}

// Events implements ports.RuntimeDriver. Each subscriber gets a buffered
// channel; when a subscriber falls 1024 events behind, newer events to it
// are dropped and logged rather than stalling the driver (the reconciler
// repairs what a lost event would have told).
func (d *Driver) Events(ctx context.Context) (<-chan ports.Event, error) {
	ch := make(chan ports.Event, 1024)
	d.subMu.Lock()
	id := d.nextSub
	d.nextSub++
	d.subs[id] = ch
	d.subMu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-d.closed:
		}
		d.subMu.Lock()
		delete(d.subs, id)
		close(ch)
		d.subMu.Unlock()
	}()
	return ch, nil
}

func (d *Driver) emit(e ports.Event) {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	for _, ch := range d.subs {
		select {
		case ch <- e:
		default:
			d.log.Warn("event subscriber is behind; dropping event", "type", e.Type, "id", e.ContainerID)
		}
	}
}
