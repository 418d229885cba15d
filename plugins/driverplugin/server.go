package driverplugin

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	"github.com/galaxy-game/rtmanager/ports"
)

// Server serves a ports.RuntimeDriver over the driver protocol. Every error
// the driver returns goes through ToStatus, so port sentinels survive the
// boundary.
type Server struct {
	driverv1.UnimplementedRuntimeDriverServer
	impl ports.RuntimeDriver
}

var _ driverv1.RuntimeDriverServer = (*Server)(nil)

// NewServer returns a Server for impl.
func NewServer(impl ports.RuntimeDriver) *Server {
	return &Server{impl: impl}
}

// PrepareImage implements the PrepareImage RPC.
func (s *Server) PrepareImage(ctx context.Context, req *driverv1.PrepareImageRequest) (*driverv1.PrepareImageResponse, error) {
	if err := s.impl.PrepareImage(ctx, req.GetImage()); err != nil {
		return nil, ToStatus(err)
	}
	return &driverv1.PrepareImageResponse{}, nil
}

// Start implements the Start RPC.
func (s *Server) Start(ctx context.Context, req *driverv1.StartRequest) (*driverv1.StartResponse, error) {
	if req.GetSpec() == nil {
		return nil, ToStatus(fmt.Errorf("start: missing spec: %w", ports.ErrInvalid))
	}
	c, err := s.impl.Start(ctx, specFromWire(req.GetSpec()))
	if err != nil {
		return nil, ToStatus(err)
	}
	return &driverv1.StartResponse{Container: containerToWire(c)}, nil
}

// Stop implements the Stop RPC.
func (s *Server) Stop(ctx context.Context, req *driverv1.StopRequest) (*driverv1.StopResponse, error) {
	if err := s.impl.Stop(ctx, req.GetId(), req.GetTimeout().AsDuration()); err != nil {
		return nil, ToStatus(err)
	}
	return &driverv1.StopResponse{}, nil
}

// Remove implements the Remove RPC.
func (s *Server) Remove(ctx context.Context, req *driverv1.RemoveRequest) (*driverv1.RemoveResponse, error) {
	if err := s.impl.Remove(ctx, req.GetId()); err != nil {
		return nil, ToStatus(err)
	}
	return &driverv1.RemoveResponse{}, nil
}

// Inspect implements the Inspect RPC.
func (s *Server) Inspect(ctx context.Context, req *driverv1.InspectRequest) (*driverv1.InspectResponse, error) {
	c, err := s.impl.Inspect(ctx, req.GetId())
	if err != nil {
		return nil, ToStatus(err)
	}
	return &driverv1.InspectResponse{Container: containerToWire(c)}, nil
}

// List implements the List RPC.
func (s *Server) List(ctx context.Context, req *driverv1.ListRequest) (*driverv1.ListResponse, error) {
	cs, err := s.impl.List(ctx, req.GetLabels())
	if err != nil {
		return nil, ToStatus(err)
	}
	resp := &driverv1.ListResponse{Containers: make([]*driverv1.Container, 0, len(cs))}
	for _, c := range cs {
		resp.Containers = append(resp.Containers, containerToWire(c))
	}
	return resp, nil
}

// Events implements the Events RPC: it subscribes, acknowledges with a
// `subscribed` message, then forwards events until the driver closes the
// channel or the host goes away.
func (s *Server) Events(_ *driverv1.EventsRequest, stream driverv1.RuntimeDriver_EventsServer) error {
	ctx := stream.Context()
	ch, err := s.impl.Events(ctx)
	if err != nil {
		return ToStatus(err)
	}
	ack := &driverv1.EventsResponse{Kind: &driverv1.EventsResponse_Subscribed_{Subscribed: &driverv1.EventsResponse_Subscribed{}}}
	if err := stream.Send(ack); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return status.Error(codes.Unavailable, "driver closed its event stream")
			}
			msg := &driverv1.EventsResponse{Kind: &driverv1.EventsResponse_Event{Event: eventToWireMsg(e)}}
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
	}
}

// Capabilities implements the Capabilities RPC.
func (s *Server) Capabilities(ctx context.Context, _ *driverv1.CapabilitiesRequest) (*driverv1.CapabilitiesResponse, error) {
	c, err := s.impl.Capabilities(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	return capsToWire(c), nil
}
