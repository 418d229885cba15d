package driverplugin

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	driverv2 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v2"
	"github.com/galaxy-game/rtmanager/ports"
)

// eventBuffer is the capacity of the channel Events returns.
const eventBuffer = 256

// Client is a ports.RuntimeDriver that calls a plugin over gRPC. Every error
// goes through FromStatus, so callers test port sentinels with errors.Is;
// a broken transport reports ports.ErrUnavailable.
type Client struct {
	rpc driverv1.RuntimeDriverClient
	// observe is the protocol version 2 service; nil for a version 1
	// plugin, whose logs and stats are ports.ErrUnsupported.
	observe driverv2.ObserveClient
	done    <-chan struct{}
	// frames is the frame channel of a protocol version 3 plugin (nil
	// before): concurrent calls cost one round trip's wait.
	frames *FrameConn
}

var _ ports.RuntimeDriver = (*Client)(nil)

// NewClient returns a Client over conn. pluginCtx ends when the plugin
// process exits (go-plugin cancels it); Done exposes it.
func NewClient(pluginCtx context.Context, conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: driverv1.NewRuntimeDriverClient(conn), done: pluginCtx.Done()}
}

// NewClientV2 returns a Client of a protocol version 2 plugin over conn:
// NewClient plus the Observe service.
func NewClientV2(pluginCtx context.Context, conn grpc.ClientConnInterface) *Client {
	c := NewClient(pluginCtx, conn)
	c.observe = driverv2.NewObserveClient(conn)
	return c
}

// NewClientV3 returns a Client of a protocol version 3 plugin: the unary
// calls of NewClientV2 over frames, the host's end of the frame channel,
// and the streaming calls over conn. Done also closes when the frame
// channel breaks.
func NewClientV3(pluginCtx context.Context, conn grpc.ClientConnInterface, frames net.Conn) *Client {
	fc := NewFrameConn(frames, conn)
	c := NewClientV2(pluginCtx, fc)
	c.frames = fc
	done := make(chan struct{})
	go func() {
		select {
		case <-pluginCtx.Done():
			fc.Close()
		case <-fc.Done():
		}
		close(done)
	}()
	c.done = done
	return c
}

// Done is closed when the plugin process behind c has exited or was killed,
// or (protocol version 3) when its frame channel broke.
func (c *Client) Done() <-chan struct{} { return c.done }

// PrepareImage implements ports.RuntimeDriver.
func (c *Client) PrepareImage(ctx context.Context, image string) error {
	_, err := c.rpc.PrepareImage(ctx, &driverv1.PrepareImageRequest{Image: image})
	return callErr(ctx, err)
}

// Start implements ports.RuntimeDriver.
func (c *Client) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	resp, err := c.rpc.Start(ctx, &driverv1.StartRequest{Spec: specToWire(spec)})
	if err != nil {
		return ports.Container{}, callErr(ctx, err)
	}
	return containerFromWire(resp.GetContainer()), nil
}

// Stop implements ports.RuntimeDriver.
func (c *Client) Stop(ctx context.Context, id string, timeout time.Duration) error {
	_, err := c.rpc.Stop(ctx, &driverv1.StopRequest{Id: id, Timeout: durationpb.New(timeout)})
	return callErr(ctx, err)
}

// Remove implements ports.RuntimeDriver.
func (c *Client) Remove(ctx context.Context, id string) error {
	_, err := c.rpc.Remove(ctx, &driverv1.RemoveRequest{Id: id})
	return callErr(ctx, err)
}

// Inspect implements ports.RuntimeDriver.
func (c *Client) Inspect(ctx context.Context, id string) (ports.Container, error) {
	resp, err := c.rpc.Inspect(ctx, &driverv1.InspectRequest{Id: id})
	if err != nil {
		return ports.Container{}, callErr(ctx, err)
	}
	return containerFromWire(resp.GetContainer()), nil
}

// List implements ports.RuntimeDriver.
func (c *Client) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	resp, err := c.rpc.List(ctx, &driverv1.ListRequest{Labels: labels})
	if err != nil {
		return nil, callErr(ctx, err)
	}
	out := make([]ports.Container, 0, len(resp.GetContainers()))
	for _, w := range resp.GetContainers() {
		out = append(out, containerFromWire(w))
	}
	return out, nil
}

// Events implements ports.RuntimeDriver. It returns once the plugin has
// acknowledged the subscription, so no event after the return is missed.
// The channel closes when ctx ends or the stream breaks (e.g. the plugin
// died); this client does not re-subscribe: the plugin host does.
func (c *Client) Events(ctx context.Context) (<-chan ports.Event, error) {
	streamCtx, cancel := context.WithCancel(ctx)
	stream, err := c.rpc.Events(streamCtx, &driverv1.EventsRequest{})
	if err != nil {
		cancel()
		return nil, callErr(ctx, err)
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, callErr(ctx, err)
	}
	if first.GetSubscribed() == nil {
		cancel()
		return nil, fmt.Errorf("events: plugin broke protocol: first message is not the subscription acknowledgement: %w", ports.ErrUnavailable)
	}
	out := make(chan ports.Event, eventBuffer)
	go func() {
		defer cancel()
		defer close(out)
		for {
			msg, err := stream.Recv()
			if err != nil {
				return
			}
			e := msg.GetEvent()
			if e == nil {
				continue
			}
			select {
			case out <- eventFromWireMsg(e):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Capabilities implements ports.RuntimeDriver.
func (c *Client) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	var observed chan observeResult
	if c.frames != nil && c.observe != nil {
		// Both requests in flight at once: one round trip's wait.
		observed = make(chan observeResult, 1)
		go func() { observed <- c.observeCall(ctx) }()
	}
	resp, err := c.rpc.Capabilities(ctx, &driverv1.CapabilitiesRequest{})
	if err != nil {
		if observed != nil {
			<-observed
		}
		return ports.Capabilities{}, callErr(ctx, err)
	}
	return c.observeCaps(ctx, capsFromWire(resp), observed)
}

// callErr translates the error of a call made with ctx. A Canceled status
// while ctx is still live means the connection, not the caller, gave up:
// the transport failed, so ErrUnavailable. Once ctx is done, a Canceled or
// DeadlineExceeded status is the caller's own context error.
func callErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	code := status.Code(err)
	switch {
	case ctx.Err() == nil && code == codes.Canceled:
		return &remoteError{msg: "plugin connection closed: " + status.Convert(err).Message(), sentinel: ports.ErrUnavailable}
	case ctx.Err() != nil && (code == codes.Canceled || code == codes.DeadlineExceeded):
		return fmt.Errorf("plugin call: %w", ctx.Err())
	}
	return FromStatus(err)
}
