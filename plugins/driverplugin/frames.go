package driverplugin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/proto"
)

// The frame transport of protocol version 3 (see docs/plugins.md, "The
// frame channel"). After the go-plugin handshake, every unary call of the
// driver protocol (RuntimeDriver's and Observe's) travels over one
// anonymous Unix socket pair the host creates before it starts the plugin
// and hands it as an inherited file descriptor (EnvFramesFD). Each frame is
//
//	uint32 length of the rest of the frame (big endian)
//	uint8  kind
//	uint64 call id, chosen by the host
//	...    kind-specific fields and the payload
//
// kindRequest carries an int64 timeout in nanoseconds (0: none), a uint16
// method length and the full gRPC method name, then the request message;
// kindReply the reply message; kindError a google.rpc.Status (the same
// status a gRPC call returns, ErrorDetail included); kindCancel nothing.
// Streaming calls (Events, Logs) stay on gRPC.
const (
	kindRequest byte = 1
	kindReply   byte = 2
	kindError   byte = 3
	kindCancel  byte = 4
)

// MaxFrame bounds one frame in either direction (16 MiB, four times
// gRPC's default message limit): a longer length prefix breaks the
// connection instead of allocating it.
const MaxFrame = 16 << 20

// frameHeader is the length prefix, the kind and the call id.
const frameHeader = 4 + 1 + 8

// errFrame marks a frame that breaks the protocol.
var errFrame = errors.New("broke the frame protocol")

// appendHeader starts a frame of kind for call id in buf; finishFrame
// writes its length once the payload is appended.
func appendHeader(buf []byte, kind byte, id uint64) []byte {
	buf = append(buf, 0, 0, 0, 0, kind)
	return binary.BigEndian.AppendUint64(buf, id)
}

// finishFrame writes the length prefix of the frame in buf.
func finishFrame(buf []byte) ([]byte, error) {
	n := len(buf) - 4
	if n > MaxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds the %d-byte limit", n, MaxFrame)
	}
	binary.BigEndian.PutUint32(buf, uint32(n))
	return buf, nil
}

// readFrame reads one frame: its kind, call id and the rest (body). A
// length outside [9, MaxFrame] is an error before anything is allocated.
func readFrame(r io.Reader, hdr *[frameHeader]byte) (kind byte, id uint64, body []byte, err error) {
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < frameHeader-4 || n > MaxFrame {
		return 0, 0, nil, fmt.Errorf("%w: frame length %d outside [%d, %d]", errFrame, n, frameHeader-4, MaxFrame)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return 0, 0, nil, err
	}
	body = make([]byte, n-(frameHeader-4))
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	return hdr[4], binary.BigEndian.Uint64(hdr[5:]), body, nil
}

// appendRequest appends a request's fields after its header.
func appendRequest(buf []byte, timeoutNanos int64, method string) ([]byte, error) {
	if len(method) > math.MaxUint16 {
		return nil, fmt.Errorf("method name of %d bytes", len(method))
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(timeoutNanos))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(method)))
	return append(buf, method...), nil
}

// parseRequest splits a request body into its timeout, method and payload.
func parseRequest(body []byte) (timeoutNanos int64, method string, payload []byte, err error) {
	if len(body) < 10 {
		return 0, "", nil, fmt.Errorf("%w: request of %d bytes", errFrame, len(body))
	}
	timeoutNanos = int64(binary.BigEndian.Uint64(body))
	n := int(binary.BigEndian.Uint16(body[8:]))
	if len(body) < 10+n {
		return 0, "", nil, fmt.Errorf("%w: request method of %d bytes in %d", errFrame, n, len(body))
	}
	return timeoutNanos, string(body[10 : 10+n]), body[10+n:], nil
}

// marshalOpts appends a message to a frame being built.
var marshalOpts = proto.MarshalOptions{}
