package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/galaxy-game/rtmanager/internal/logrotate"
	"github.com/galaxy-game/rtmanager/ports"
)

// Stop sends SIGTERM to the container's task, waits up to timeout for it to
// exit, then sends SIGKILL, and returns once the task has exited. The exited
// task is kept so Inspect still reports its exit code. A container without
// a task, or whose task has exited, is left as it is. Errors:
// ports.ErrNotFound, ports.ErrUnavailable.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("stop %s: %w", id, err)
		}
	}()
	ctr, err := d.client.LoadContainer(ctx, id)
	if err != nil {
		return translate(err)
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	if st.Status == client.Stopped {
		return nil
	}
	// Wait must be subscribed before the signal, or a quick exit is missed.
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited, err := task.Wait(waitCtx)
	if err != nil {
		return translate(err)
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("SIGTERM: %w", translate(err))
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case es := <-exited:
		return d.exitedOrErr(ctx, task, es)
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("SIGKILL: %w", translate(err))
	}
	select {
	case es := <-exited:
		return d.exitedOrErr(ctx, task, es)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exitedOrErr checks an exit status from Wait: when the wait itself failed
// (e.g. the daemon restarted) it asks the task's status instead.
func (d *Driver) exitedOrErr(ctx context.Context, task client.Task, es client.ExitStatus) error {
	if es.Error() == nil {
		return nil
	}
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) || err == nil && st.Status == client.Stopped {
		return nil
	}
	return fmt.Errorf("wait for exit: %w", translate(errors.Join(es.Error(), err)))
}

// Remove kills the container's task if it runs, deletes the task, the
// container and its snapshot, and the task's log file. A container that
// does not exist is not an error. Errors: ports.ErrUnavailable.
func (d *Driver) Remove(ctx context.Context, id string) error {
	ctr, err := d.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", id, translate(err))
	}
	if err := d.remove(ctx, ctr); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

// remove deletes ctr and everything it owns; parts already gone are fine.
func (d *Driver) remove(ctx context.Context, ctr client.Container) error {
	labels, err := ctr.Labels(ctx)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	task, err := ctr.Task(ctx, nil)
	switch {
	case err == nil:
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task: %w", translate(err))
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("load task: %w", translate(err))
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container: %w", translate(err))
	}
	if p := labels[LabelLogPath]; p != "" && filepath.Base(p) == ctr.ID()+".log" {
		if err := logrotate.Remove(p); err != nil {
			return fmt.Errorf("remove log: %w", err)
		}
	}
	if port, err := strconv.Atoi(labels[LabelPort]); err == nil {
		d.releasePort(port)
	}
	return nil
}

// Inspect returns the container id with its task's state. A container
// whose task was never created (or was deleted) is reported as created.
// Errors: ports.ErrNotFound, ports.ErrUnavailable.
func (d *Driver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	ctr, err := d.client.LoadContainer(ctx, id)
	if err != nil {
		return ports.Container{}, fmt.Errorf("inspect %s: %w", id, translate(err))
	}
	c, err := d.inspect(ctx, ctr, false)
	if err != nil {
		return ports.Container{}, fmt.Errorf("inspect %s: %w", id, err)
	}
	return c, nil
}

// List returns the containers of the namespace carrying every label in
// labels, sorted by id. Containers deleted while listing are left out.
// Errors: ports.ErrUnavailable.
func (d *Driver) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	ctrs, err := d.client.Containers(ctx, labelFilter(labels)...)
	if err != nil {
		return nil, fmt.Errorf("list: %w", translate(err))
	}
	out := make([]ports.Container, 0, len(ctrs))
	for _, ctr := range ctrs {
		c, err := d.inspect(ctx, ctr, false)
		if errors.Is(err, ports.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// labelFilter returns one containerd filter that requires every label.
func labelFilter(labels map[string]string) []string {
	if len(labels) == 0 {
		return nil
	}
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, "labels."+strconv.Quote(k)+"=="+strconv.Quote(v))
	}
	sort.Strings(parts)
	return []string{strings.Join(parts, ",")}
}

// inspect turns a container and its task into a ports.Container. Unless
// refresh is set it trusts the metadata ctr was loaded with, saving a call.
func (d *Driver) inspect(ctx context.Context, ctr client.Container, refresh bool) (ports.Container, error) {
	var opts []client.InfoOpts
	if !refresh {
		opts = append(opts, client.WithoutRefreshedMetadata)
	}
	info, err := ctr.Info(ctx, opts...)
	if err != nil {
		return ports.Container{}, translate(err)
	}
	c := ports.Container{
		ID:        info.ID,
		Name:      info.ID,
		Image:     info.Image,
		Labels:    info.Labels,
		State:     ports.StateCreated,
		CreatedAt: info.CreatedAt,
	}
	if ref := info.Labels[LabelImage]; ref != "" {
		c.Image = ref
	}
	if t, err := time.Parse(time.RFC3339Nano, info.Labels[LabelStartedAt]); err == nil {
		c.StartedAt = t
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return c, nil
	}
	if err != nil {
		return ports.Container{}, translate(err)
	}
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) {
		return c, nil
	}
	if err != nil {
		return ports.Container{}, translate(err)
	}
	switch st.Status {
	case client.Running, client.Paused, client.Pausing:
		c.State = ports.StateRunning
		if port := info.Labels[LabelPort]; port != "" {
			c.Endpoint = net.JoinHostPort(info.Labels[LabelHostIP], port)
		}
	case client.Created:
		c.State = ports.StateCreated
	default: // Stopped, or Unknown when the shim is gone
		c.State = ports.StateExited
		c.ExitCode = int(st.ExitStatus)
		c.FinishedAt = st.ExitTime
		if st.Status == client.Unknown {
			c.ExitCode = client.UnknownExitStatus
		}
		c.OOMKilled = info.Labels[LabelOOMKilled] == "true" || d.oomKilled(ctx, ctr)
	}
	return c, nil
}
