package driverplugin

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// FrameServer is the plugin's end of the frame channel (protocol version
// 3): a grpc.ServiceRegistrar that serves the unary methods of the
// services registered on it, each request in its own goroutine with the
// host's deadline, until the host cancels it. Register the same service
// implementations as on the gRPC server, so both paths run the same code.
type FrameServer struct {
	methods map[string]frameMethod
}

type frameMethod struct {
	impl    any
	handler func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error)
}

var _ grpc.ServiceRegistrar = (*FrameServer)(nil)

// NewFrameServer returns a FrameServer with no services.
func NewFrameServer() *FrameServer {
	return &FrameServer{methods: map[string]frameMethod{}}
}

// RegisterService implements grpc.ServiceRegistrar: the unary methods of
// desc become callable by their full gRPC names.
func (s *FrameServer) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		s.methods["/"+desc.ServiceName+"/"+m.MethodName] = frameMethod{impl: impl, handler: m.Handler}
	}
}

// Serve answers the requests on conn until the host closes it or breaks
// the protocol; it then cancels the calls in flight, closes conn and
// returns why it stopped.
func (s *FrameServer) Serve(conn net.Conn) error {
	defer conn.Close()
	ctx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	var (
		wmu   sync.Mutex
		mu    sync.Mutex
		calls = map[uint64]context.CancelFunc{}
	)
	reply := func(frame []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = conn.Write(frame) // a broken conn ends the read loop too
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	var hdr [frameHeader]byte
	for {
		kind, id, body, err := readFrame(r, &hdr)
		if err != nil {
			return err
		}
		switch kind {
		case kindCancel:
			mu.Lock()
			if cancel := calls[id]; cancel != nil {
				cancel()
			}
			mu.Unlock()
			continue
		case kindRequest:
		default:
			return fmt.Errorf("%w: frame kind %d from the host", errFrame, kind)
		}
		timeout, method, payload, err := parseRequest(body)
		if err != nil {
			return err
		}
		callCtx, cancel := context.WithCancel(ctx)
		if timeout > 0 {
			callCtx, cancel = context.WithTimeout(ctx, time.Duration(timeout))
		}
		mu.Lock()
		calls[id] = cancel
		mu.Unlock()
		go func() {
			frame := s.call(callCtx, id, method, payload)
			mu.Lock()
			delete(calls, id)
			mu.Unlock()
			cancel()
			reply(frame)
		}()
	}
}

// call runs one request and returns its reply or error frame.
func (s *FrameServer) call(ctx context.Context, id uint64, method string, payload []byte) []byte {
	var (
		resp any
		err  error
	)
	if m, ok := s.methods[method]; ok {
		resp, err = m.handler(m.impl, ctx, func(v any) error {
			msg, ok := v.(proto.Message)
			if !ok {
				return status.Errorf(codes.Internal, "%T is not a protobuf message", v)
			}
			if err := proto.Unmarshal(payload, msg); err != nil {
				return status.Errorf(codes.InvalidArgument, "request to %s does not decode: %v", method, err)
			}
			return nil
		}, nil)
	} else {
		err = status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	if err == nil {
		msg, ok := resp.(proto.Message)
		if !ok {
			err = status.Errorf(codes.Internal, "%s returned %T", method, resp)
		} else {
			var frame []byte
			if frame, err = marshalOpts.MarshalAppend(appendHeader(make([]byte, 0, 256), kindReply, id), msg); err == nil {
				if frame, err = finishFrame(frame); err == nil {
					return frame
				}
				err = status.Errorf(codes.ResourceExhausted, "reply to %s: %v", method, err)
			}
		}
	}
	return errorFrame(id, err)
}

// errorFrame returns the error frame of call id carrying err's status.
func errorFrame(id uint64, err error) []byte {
	frame, merr := marshalOpts.MarshalAppend(appendHeader(nil, kindError, id), status.Convert(err).Proto())
	if merr == nil {
		frame, merr = finishFrame(frame)
	}
	if merr != nil { // a status too large for a frame: its code alone
		frame, _ = marshalOpts.MarshalAppend(appendHeader(nil, kindError, id), status.New(status.Code(err), "error too large for a frame").Proto())
		frame, _ = finishFrame(frame)
	}
	return frame
}
