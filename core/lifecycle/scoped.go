package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// scopedDriver is the driver as one instance sees it: only rtmanager's
// containers of its own scope exist (SPEC §11 "Scopes"). The services act
// on container ids from their records; an id that now names a container of
// another scope (containerd and the process driver reuse names as ids) or
// one rtmanager does not manage is never stopped or deleted through them:
// Inspect and Stop answer ErrNotFound (the instance's own container is
// gone), Remove does nothing (it is already gone from this scope). Start
// is guarded by the drivers themselves (ports.CheckOwner), List by
// listScoped.
type scopedDriver struct {
	ports.RuntimeDriver
	scope string
}

func (d scopedDriver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	c, err := d.RuntimeDriver.Inspect(ctx, id)
	if err != nil {
		return c, err
	}
	if c.Labels[ports.LabelManaged] != "true" || ports.ScopeOf(c.Labels) != d.scope {
		return ports.Container{}, fmt.Errorf("%w: container %s is not rtmanager's in scope %q (scope label %q)",
			ports.ErrNotFound, id, d.scope, c.Labels[ports.LabelScope])
	}
	return c, nil
}

func (d scopedDriver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	if _, err := d.Inspect(ctx, id); err != nil {
		return err
	}
	return d.RuntimeDriver.Stop(ctx, id, timeout)
}

func (d scopedDriver) Remove(ctx context.Context, id string) error {
	_, err := d.Inspect(ctx, id)
	if errors.Is(err, ports.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return d.RuntimeDriver.Remove(ctx, id)
}

// Logs reads the output of a container of this scope through the driver's
// optional LogSource (ErrUnsupported without one); another scope's or an
// unmanaged container is ErrNotFound, as for Inspect.
func (d scopedDriver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	if _, err := d.Inspect(ctx, id); err != nil {
		return err
	}
	return ports.ReadLogs(ctx, d.RuntimeDriver, id, opts, w)
}

// Stats samples a container of this scope through the driver's optional
// StatsSource, like Logs.
func (d scopedDriver) Stats(ctx context.Context, id string) (ports.Stats, error) {
	if _, err := d.Inspect(ctx, id); err != nil {
		return ports.Stats{}, err
	}
	return ports.ReadStats(ctx, d.RuntimeDriver, id)
}

// LocalImage forwards to the driver's image store (ErrUnsupported without
// one); images are the runtime's, not a scope's, so nothing is filtered.
func (d scopedDriver) LocalImage(ctx context.Context, ref string) (ports.Image, error) {
	return ports.ImagesOf(d.RuntimeDriver).LocalImage(ctx, ref)
}

// PullImage forwards to the driver's image store, like LocalImage.
func (d scopedDriver) PullImage(ctx context.Context, ref string) (ports.Image, error) {
	return ports.ImagesOf(d.RuntimeDriver).PullImage(ctx, ref)
}

// Images forwards to the driver's image store, like LocalImage.
func (d scopedDriver) Images(ctx context.Context) ([]ports.Image, error) {
	return ports.ImagesOf(d.RuntimeDriver).Images(ctx)
}

// RemoveImage forwards to the driver's image store, like LocalImage.
func (d scopedDriver) RemoveImage(ctx context.Context, ref string) error {
	return ports.ImagesOf(d.RuntimeDriver).RemoveImage(ctx, ref)
}

var (
	_ ports.LogSource   = scopedDriver{}
	_ ports.StatsSource = scopedDriver{}
	_ ports.ImageStore  = scopedDriver{}
)
