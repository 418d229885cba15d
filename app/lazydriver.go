package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// lazyDriver stands in for a driver whose runtime could not be reached at
// start-up: rtmanager starts anyway (readiness reports the driver down and
// operations answer service_unavailable) and connects on the first call
// after the runtime comes up, trying at most once per retry interval.
type lazyDriver struct {
	open  func(ctx context.Context) (ports.RuntimeDriver, func() error, error)
	retry time.Duration

	mu      sync.Mutex
	d       ports.RuntimeDriver
	closeFn func() error
	last    time.Time
	lastErr error
}

var _ ports.RuntimeDriver = (*lazyDriver)(nil)

// get returns the connected driver, connecting when the last attempt is
// older than the retry interval. Errors wrap ports.ErrUnavailable.
func (l *lazyDriver) get(ctx context.Context) (ports.RuntimeDriver, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.d != nil {
		return l.d, nil
	}
	if time.Since(l.last) < l.retry && l.lastErr != nil {
		return nil, l.lastErr
	}
	l.last = time.Now()
	d, closeFn, err := l.open(ctx)
	if err != nil {
		if !errors.Is(err, ports.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
		}
		l.lastErr = err
		return nil, err
	}
	l.d, l.closeFn, l.lastErr = d, closeFn, nil
	return d, nil
}

// Close closes the driver if it was ever connected.
func (l *lazyDriver) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closeFn == nil {
		return nil
	}
	return l.closeFn()
}

// PrepareImage implements ports.RuntimeDriver.
func (l *lazyDriver) PrepareImage(ctx context.Context, image string) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return d.PrepareImage(ctx, image)
}

// Start implements ports.RuntimeDriver.
func (l *lazyDriver) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	d, err := l.get(ctx)
	if err != nil {
		return ports.Container{}, err
	}
	return d.Start(ctx, spec)
}

// Stop implements ports.RuntimeDriver.
func (l *lazyDriver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return d.Stop(ctx, id, timeout)
}

// Remove implements ports.RuntimeDriver.
func (l *lazyDriver) Remove(ctx context.Context, id string) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return d.Remove(ctx, id)
}

// Inspect implements ports.RuntimeDriver.
func (l *lazyDriver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	d, err := l.get(ctx)
	if err != nil {
		return ports.Container{}, err
	}
	return d.Inspect(ctx, id)
}

// List implements ports.RuntimeDriver.
func (l *lazyDriver) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	d, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.List(ctx, labels)
}

// Events implements ports.RuntimeDriver.
func (l *lazyDriver) Events(ctx context.Context) (<-chan ports.Event, error) {
	d, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.Events(ctx)
}

// Capabilities implements ports.RuntimeDriver.
func (l *lazyDriver) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	d, err := l.get(ctx)
	if err != nil {
		return ports.Capabilities{}, err
	}
	return d.Capabilities(ctx)
}
