package driverplugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// cancelTimeout bounds the write of a cancel frame.
const cancelTimeout = 5 * time.Second

// FrameConn is the host's end of the frame channel (protocol version 3):
// a grpc.ClientConnInterface whose unary calls travel as frames over conn,
// many in flight at once, matched to their replies by id. Streaming calls
// go to streams, the plugin's gRPC connection. The caller's deadline
// travels with each request and its cancellation as a cancel frame; the
// call returns at once either way.
//
// Errors are gRPC status errors as over gRPC: a reply's status unchanged,
// the caller's context as Canceled or DeadlineExceeded, and a broken
// channel as Unavailable. A plugin that breaks the protocol (a frame over
// MaxFrame, an unknown frame kind, a reply that does not decode) or
// closes its end fails every call in flight and every later one with
// Unavailable, and Done closes: the host then replaces the plugin.
type FrameConn struct {
	conn    net.Conn
	streams grpc.ClientConnInterface
	nextID  atomic.Uint64

	wmu sync.Mutex // one frame written at a time

	mu      sync.Mutex
	pending map[uint64]chan frameResult
	err     error // set once the channel is broken
	done    chan struct{}
}

// frameResult is what the reader hands a waiting call.
type frameResult struct {
	kind byte
	body []byte
	err  error
}

var _ grpc.ClientConnInterface = (*FrameConn)(nil)

// NewFrameConn starts reading replies from conn and returns the client.
// streams serves the streaming calls.
func NewFrameConn(conn net.Conn, streams grpc.ClientConnInterface) *FrameConn {
	c := &FrameConn{conn: conn, streams: streams, pending: map[uint64]chan frameResult{}, done: make(chan struct{})}
	go c.readLoop()
	return c
}

// Done is closed once the channel is broken.
func (c *FrameConn) Done() <-chan struct{} { return c.done }

// Close closes the channel; calls in flight fail with Unavailable.
func (c *FrameConn) Close() error {
	c.fail(errors.New("closed by the host"))
	return nil
}

// NewStream implements grpc.ClientConnInterface over the gRPC connection.
func (c *FrameConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.streams.NewStream(ctx, desc, method, opts...)
}

// Invoke implements grpc.ClientConnInterface: one request frame, then the
// reply, the caller's cancellation or a broken channel, whichever is first.
func (c *FrameConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	req, ok := args.(proto.Message)
	rep, ok2 := reply.(proto.Message)
	if !ok || !ok2 {
		return status.Errorf(codes.Internal, "frame call %s: %T/%T is not a protobuf message", method, args, reply)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	var timeout int64
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		timeout = max(int64(time.Until(deadline)), 1)
	}
	id := c.nextID.Add(1)
	buf := appendHeader(make([]byte, 0, 64+len(method)), kindRequest, id)
	buf, err := appendRequest(buf, timeout, method)
	if err == nil {
		buf, err = marshalOpts.MarshalAppend(buf, req)
	}
	if err == nil {
		buf, err = finishFrame(buf)
	}
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "frame call %s: %v", method, err)
	}
	ch := make(chan frameResult, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.write(buf, deadline); err != nil {
		c.forget(id)
		return err
	}
	select {
	case r := <-ch:
		return decodeResult(method, r, rep)
	case <-ctx.Done():
		c.forget(id)
		go c.cancel(id)
		return status.FromContextError(ctx.Err()).Err()
	}
}

// decodeResult turns a reply frame into reply or the call's error.
func decodeResult(method string, r frameResult, reply proto.Message) error {
	switch {
	case r.err != nil:
		return r.err
	case r.kind == kindReply:
		if err := proto.Unmarshal(r.body, reply); err != nil {
			return status.Errorf(codes.Unavailable, "plugin %s: reply does not decode: %v", errFrame, err)
		}
		return nil
	}
	var st spb.Status
	if err := proto.Unmarshal(r.body, &st); err != nil {
		return status.Errorf(codes.Unavailable, "plugin %s: error reply to %s does not decode: %v", errFrame, method, err)
	}
	if codes.Code(st.GetCode()) == codes.OK {
		return status.Errorf(codes.Unavailable, "plugin %s: error reply to %s has status OK", errFrame, method)
	}
	return status.ErrorProto(&st)
}

// write writes one frame by deadline (zero: none). A deadline that passes
// before a byte is written fails this call alone (DeadlineExceeded); a
// write that fails or stops part-way leaves a partial frame behind, so it
// breaks the channel.
func (c *FrameConn) write(frame []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.SetWriteDeadline(deadline); err == nil {
		n, err := c.conn.Write(frame)
		switch {
		case err == nil:
			return nil
		case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, "plugin call: deadline passed before the request was sent")
		}
		c.fail(fmt.Errorf("write: %w", err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return status.Error(codes.Unavailable, "plugin frame channel: write failed")
	}
	return c.err
}

// cancel tells the plugin that the caller of call id gave up.
func (c *FrameConn) cancel(id uint64) {
	buf, _ := finishFrame(appendHeader(make([]byte, 0, frameHeader), kindCancel, id))
	_ = c.write(buf, time.Now().Add(cancelTimeout))
}

// forget drops a call nobody waits for any more; its late reply is
// discarded.
func (c *FrameConn) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// readLoop hands each reply to its call until the channel breaks.
func (c *FrameConn) readLoop() {
	r := bufio.NewReaderSize(c.conn, 64<<10)
	var hdr [frameHeader]byte
	for {
		kind, id, body, err := readFrame(r, &hdr)
		if err != nil {
			c.fail(err)
			return
		}
		if kind != kindReply && kind != kindError {
			c.fail(fmt.Errorf("%w: frame kind %d", errFrame, kind))
			return
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- frameResult{kind: kind, body: body}
		}
	}
}

// fail breaks the channel for good: every call in flight and every later
// one gets Unavailable naming cause.
func (c *FrameConn) fail(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	msg := "plugin frame channel closed: " + cause.Error()
	if errors.Is(cause, errFrame) {
		msg = "plugin " + cause.Error()
	}
	c.err = status.Error(codes.Unavailable, msg)
	for id, ch := range c.pending {
		ch <- frameResult{err: c.err}
		delete(c.pending, id)
	}
	close(c.done)
	c.conn.Close()
}
