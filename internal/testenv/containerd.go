package testenv

import (
	"context"
	"errors"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
)

// DropContainerdNamespace removes namespace ns of the containerd at addr:
// its containers (killing their tasks, deleting their snapshots), its
// images, then the namespace itself. Containers still there are reported
// as errors ("left behind"), so a test that should have removed them fails.
func DropContainerdNamespace(addr, ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.New(addr, client.WithDefaultNamespace(ns))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, ns)
	ctrs, err := c.Containers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ctr := range ctrs {
		errs = append(errs, errors.New("container "+ctr.ID()+" left behind"))
		if task, err := ctr.Task(ctx, nil); err == nil {
			task.Delete(ctx, client.WithProcessKill)
		}
		ctr.Delete(ctx, client.WithSnapshotCleanup)
	}
	imgs, err := c.ImageService().List(ctx)
	if err != nil {
		return err
	}
	for i, img := range imgs {
		var opts []images.DeleteOpt
		if i == len(imgs)-1 {
			opts = append(opts, images.SynchronousDelete())
		}
		if err := c.ImageService().Delete(ctx, img.Name, opts...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.NamespaceService().Delete(ctx, ns); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
