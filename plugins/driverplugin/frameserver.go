package driverplugin

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
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
//
// Calls run on long-lived workers (a fresh goroutine per call would grow
// and copy its stack every time). One worker reads at a time; having read
// a request, it passes the reading turn to an idle worker (starting one if
// none is idle) and runs the call itself, so a call starts without waiting
// for another goroutine to be scheduled. Workers stay for the session: as
// many as calls were ever in flight at once.
func (s *FrameServer) Serve(conn net.Conn) error {
	ctx, cancelAll := context.WithCancel(context.Background())
	ss := &frameSession{
		srv: s, conn: conn, ctx: ctx, r: bufio.NewReaderSize(conn, 64<<10),
		calls: map[uint64]context.CancelFunc{}, stopped: make(chan error, 1),
		turn: make(chan struct{}, 1),
	}
	ss.turn <- struct{}{}
	ss.idle.Add(1)
	go ss.work()
	err := <-ss.stopped
	cancelAll()
	conn.Close()
	return err
}

// frameSession is one Serve: the reader's state and the calls in flight.
type frameSession struct {
	srv     *FrameServer
	conn    net.Conn
	ctx     context.Context
	r       *bufio.Reader     // used by the worker holding the turn
	hdr     [frameHeader]byte // used by the worker holding the turn
	turn    chan struct{}     // holds the reading turn while nobody reads
	idle    atomic.Int64      // workers waiting for the turn
	stopped chan error

	wmu sync.Mutex // one reply written at a time

	mu    sync.Mutex
	calls map[uint64]context.CancelFunc
}

// work takes the reading turn, reads a request, passes the turn on and
// answers the request, until the session stops.
func (ss *frameSession) work() {
	for {
		select {
		case <-ss.turn:
		case <-ss.ctx.Done():
			return
		}
		ss.idle.Add(-1)
		req, ok := ss.next()
		if !ok {
			return // the session is stopping; the turn stays taken
		}
		if ss.idle.Load() == 0 {
			ss.idle.Add(1)
			go ss.work()
		}
		ss.turn <- struct{}{}
		frame := ss.srv.call(req.ctx, req.id, req.method, req.payload)
		ss.mu.Lock()
		delete(ss.calls, req.id)
		ss.mu.Unlock()
		req.cancel()
		ss.wmu.Lock()
		_, _ = ss.conn.Write(frame) // a broken conn ends the reader too
		ss.wmu.Unlock()
		ss.idle.Add(1)
	}
}

// frameRequest is a request read off the channel.
type frameRequest struct {
	id      uint64
	method  string
	payload []byte
	ctx     context.Context
	cancel  context.CancelFunc
}

// next reads frames until a request, handling cancel frames on the way;
// false means the session stopped (the reason is sent to stopped).
func (ss *frameSession) next() (frameRequest, bool) {
	for {
		kind, id, body, err := readFrame(ss.r, &ss.hdr)
		if err != nil {
			ss.stopped <- err
			return frameRequest{}, false
		}
		switch kind {
		case kindCancel:
			ss.mu.Lock()
			if cancel := ss.calls[id]; cancel != nil {
				cancel()
			}
			ss.mu.Unlock()
			continue
		case kindRequest:
		default:
			ss.stopped <- fmt.Errorf("%w: frame kind %d from the host", errFrame, kind)
			return frameRequest{}, false
		}
		timeout, method, payload, err := parseRequest(body)
		if err != nil {
			ss.stopped <- err
			return frameRequest{}, false
		}
		req := frameRequest{id: id, method: method, payload: payload}
		req.ctx, req.cancel = context.WithCancel(ss.ctx)
		if timeout > 0 {
			req.ctx, req.cancel = context.WithTimeout(ss.ctx, time.Duration(timeout))
		}
		ss.mu.Lock()
		ss.calls[id] = req.cancel
		ss.mu.Unlock()
		return req, true
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
