package pluginhost

import (
	"context"
	"fmt"
	"time"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.RuntimeDriver = (*Host)(nil)

// current returns the live plugin's driver, or an error wrapping
// ports.ErrUnavailable while the plugin is down or the host is closed.
func (h *Host) current() (*driverplugin.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, fmt.Errorf("driver plugin host is closed: %w", ports.ErrUnavailable)
	case h.driver == nil:
		return nil, fmt.Errorf("driver plugin is down (%v); restarting: %w", h.downErr, ports.ErrUnavailable)
	case h.client.Exited():
		// Exited before supervise saw it: never call the stale client.
		return nil, fmt.Errorf("driver plugin exited; restarting: %w", ports.ErrUnavailable)
	}
	return h.driver, nil
}

// PrepareImage implements ports.RuntimeDriver.
func (h *Host) PrepareImage(ctx context.Context, image string) error {
	d, err := h.current()
	if err != nil {
		return err
	}
	return d.PrepareImage(ctx, image)
}

// Start implements ports.RuntimeDriver.
func (h *Host) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	d, err := h.current()
	if err != nil {
		return ports.Container{}, err
	}
	return d.Start(ctx, spec)
}

// Stop implements ports.RuntimeDriver.
func (h *Host) Stop(ctx context.Context, id string, timeout time.Duration) error {
	d, err := h.current()
	if err != nil {
		return err
	}
	return d.Stop(ctx, id, timeout)
}

// Remove implements ports.RuntimeDriver.
func (h *Host) Remove(ctx context.Context, id string) error {
	d, err := h.current()
	if err != nil {
		return err
	}
	return d.Remove(ctx, id)
}

// Inspect implements ports.RuntimeDriver.
func (h *Host) Inspect(ctx context.Context, id string) (ports.Container, error) {
	d, err := h.current()
	if err != nil {
		return ports.Container{}, err
	}
	return d.Inspect(ctx, id)
}

// List implements ports.RuntimeDriver.
func (h *Host) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	d, err := h.current()
	if err != nil {
		return nil, err
	}
	return d.List(ctx, labels)
}

// Capabilities implements ports.RuntimeDriver.
func (h *Host) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	d, err := h.current()
	if err != nil {
		return ports.Capabilities{}, err
	}
	return d.Capabilities(ctx)
}

// Events implements ports.RuntimeDriver. The channel lives until ctx ends
// or the host is closed: when the plugin dies, the host subscribes to its
// successor. Events in between are lost (the reconciler repairs what they
// would have told). Only a subscription failure at the call is an error.
func (h *Host) Events(ctx context.Context) (<-chan ports.Event, error) {
	d, err := h.current()
	if err != nil {
		return nil, err
	}
	// sub ends every plugin subscription when this stream ends, even one
	// blocked delivering to a forwarder that has stopped.
	sub, cancel := context.WithCancel(ctx)
	in, err := d.Events(sub)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan ports.Event, 256)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(out)
		defer cancel()
		ctx := sub
		for {
			if !forward(ctx, h.closeCh, in, out) {
				return
			}
			if in = h.resubscribe(ctx); in == nil {
				return
			}
		}
	}()
	return out, nil
}

// forward copies events from in to out until in closes (true) or ctx ends
// or the host closes (false).
func forward(ctx context.Context, closed <-chan struct{}, in <-chan ports.Event, out chan<- ports.Event) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-closed:
			return false
		case e, ok := <-in:
			if !ok {
				return ctx.Err() == nil
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return false
			case <-closed:
				return false
			}
		}
	}
}

// resubscribe waits for a live plugin and subscribes to its events,
// retrying with backoff; nil means ctx ended or the host closed.
func (h *Host) resubscribe(ctx context.Context) <-chan ports.Event {
	backoff := h.cfg.MinBackoff
	for {
		h.mu.Lock()
		d, up := h.driver, h.up
		h.mu.Unlock()
		if d != nil {
			in, err := d.Events(ctx)
			if err == nil {
				h.log.Info("re-subscribed to driver plugin events")
				return in
			}
			h.log.Warn("re-subscribe to driver plugin events", "error", err, "retry_in", backoff)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-h.closeCh:
			timer.Stop()
			return nil
		case <-up: // a new plugin is up: try at once
			timer.Stop()
		case <-timer.C:
			backoff = min(2*backoff, h.cfg.MaxBackoff)
		}
	}
}
