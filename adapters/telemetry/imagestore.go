package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"

	"github.com/galaxy-game/rtmanager/ports"
)

// Driver call names of the image store, the `call` label of
// rtmanager_driver_call_duration_seconds.
const (
	CallLocalImage  = "local_image"
	CallPullImage   = "pull_image"
	CallImages      = "images"
	CallRemoveImage = "remove_image"
)

var _ ports.ImageStore = driver{}

// LocalImage implements ports.ImageStore, forwarding to the wrapped
// driver's image store (ErrUnsupported when it has none).
func (d driver) LocalImage(ctx context.Context, ref string) (_ ports.Image, err error) {
	ctx, end := d.call(ctx, CallLocalImage, attribute.String("image_ref", ref))
	defer func() { end(err) }()
	return ports.ImagesOf(d.next).LocalImage(ctx, ref)
}

// PullImage implements ports.ImageStore.
func (d driver) PullImage(ctx context.Context, ref string) (_ ports.Image, err error) {
	ctx, end := d.call(ctx, CallPullImage, attribute.String("image_ref", ref))
	defer func() { end(err) }()
	return ports.ImagesOf(d.next).PullImage(ctx, ref)
}

// Images implements ports.ImageStore.
func (d driver) Images(ctx context.Context) (_ []ports.Image, err error) {
	ctx, end := d.call(ctx, CallImages)
	defer func() { end(err) }()
	return ports.ImagesOf(d.next).Images(ctx)
}

// RemoveImage implements ports.ImageStore.
func (d driver) RemoveImage(ctx context.Context, ref string) (err error) {
	ctx, end := d.call(ctx, CallRemoveImage, attribute.String("image_ref", ref))
	defer func() { end(err) }()
	return ports.ImagesOf(d.next).RemoveImage(ctx, ref)
}
