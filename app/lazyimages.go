package app

import (
	"context"

	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.ImageStore = (*lazyDriver)(nil)

// LocalImage implements ports.ImageStore, forwarding to the connected
// driver's image store (ErrUnsupported when it has none).
func (l *lazyDriver) LocalImage(ctx context.Context, ref string) (ports.Image, error) {
	d, err := l.get(ctx)
	if err != nil {
		return ports.Image{}, err
	}
	return ports.ImagesOf(d).LocalImage(ctx, ref)
}

// PullImage implements ports.ImageStore.
func (l *lazyDriver) PullImage(ctx context.Context, ref string) (ports.Image, error) {
	d, err := l.get(ctx)
	if err != nil {
		return ports.Image{}, err
	}
	return ports.ImagesOf(d).PullImage(ctx, ref)
}

// Images implements ports.ImageStore.
func (l *lazyDriver) Images(ctx context.Context) ([]ports.Image, error) {
	d, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return ports.ImagesOf(d).Images(ctx)
}

// RemoveImage implements ports.ImageStore.
func (l *lazyDriver) RemoveImage(ctx context.Context, ref string) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return ports.ImagesOf(d).RemoveImage(ctx, ref)
}
