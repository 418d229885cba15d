package driverplugin

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	driverv2 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v2"
	"github.com/galaxy-game/rtmanager/ports"
)

// framePipe returns the two ends of a new Unix socket pair.
func framePipe(t testing.TB) (host, plugin net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "frames")
		if conns[i], err = net.FileConn(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Cleanup(func() { conns[0].Close(); conns[1].Close() })
	return conns[0], conns[1]
}

// dialFrames serves impl as a protocol version 3 plugin does, its unary
// calls over a frame channel and its streams over an in-memory go-plugin
// gRPC connection, and returns the host's client.
func dialFrames(t testing.TB, impl ports.RuntimeDriver) *Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &DriverPlugin{Impl: impl, V2: true}})
	t.Cleanup(func() { client.Close() })
	host, end := framePipe(t)
	fs := NewFrameServer()
	driverv1.RegisterRuntimeDriverServer(fs, NewServer(impl))
	driverv2.RegisterObserveServer(fs, NewObserveServer(impl))
	go fs.Serve(end)
	return NewClientV3(context.Background(), client.Conn, host)
}

// TestFramesUnknownMethod: a method the plugin does not serve is
// ErrUnsupported, as gRPC's Unimplemented is.
func TestFramesUnknownMethod(t *testing.T) {
	host, end := framePipe(t)
	go NewFrameServer().Serve(end)
	c := NewFrameConn(host, nil)
	err := c.Invoke(context.Background(), "/rtmanager.driver.v9/Nope", &driverv1.InspectRequest{}, &driverv1.InspectResponse{})
	if status.Code(err) != codes.Unimplemented || !errors.Is(FromStatus(err), ports.ErrUnsupported) {
		t.Fatalf("unknown method = %v, want Unimplemented", err)
	}
}

// TestFramesOversizedRequest: a request over MaxFrame is refused before it
// is sent, and the channel stays usable.
func TestFramesOversizedRequest(t *testing.T) {
	stub := &stubDriver{c: ports.Container{ID: "abc"}}
	c := dialFrames(t, stub)
	huge := strings.Repeat("x", MaxFrame)
	if _, err := c.Inspect(context.Background(), huge); !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Inspect with a %d-byte id = %v, want ErrInvalid naming the limit", len(huge), err)
	}
	if got, err := c.Inspect(context.Background(), "abc"); err != nil || got.ID != "abc" {
		t.Fatalf("Inspect after the refused request = %+v, %v", got, err)
	}
}

// TestFramesHostGone: when the host's end closes, the plugin's Serve
// returns and cancels the calls in flight.
func TestFramesHostGone(t *testing.T) {
	host, end := framePipe(t)
	done := make(chan error, 1)
	go func() { done <- NewFrameServer().Serve(end) }()
	c := NewFrameConn(host, nil)
	c.Close()
	if err := <-done; err == nil {
		t.Fatalf("Serve returned nil after the host closed")
	}
	err := c.Invoke(context.Background(), "/x/y", &driverv1.InspectRequest{}, &driverv1.InspectResponse{})
	if !errors.Is(FromStatus(err), ports.ErrUnavailable) {
		t.Fatalf("call on a closed channel = %v, want ErrUnavailable", err)
	}
}

// TestFramesLateWrite: a request whose deadline passed before it was
// written fails alone; the channel stays up for the next call.
func TestFramesLateWrite(t *testing.T) {
	stub := &stubDriver{c: ports.Container{ID: "abc"}}
	c := dialFrames(t, stub)
	conn := c.frames
	frame, err := finishFrame(appendHeader(nil, kindCancel, 42))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.write(frame, time.Now().Add(-time.Second)); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("write past its deadline = %v, want DeadlineExceeded", err)
	}
	select {
	case <-conn.Done():
		t.Fatalf("a write refused before its first byte broke the channel")
	default:
	}
	if got, err := c.Inspect(context.Background(), "abc"); err != nil || got.ID != "abc" {
		t.Fatalf("Inspect after the late write = %+v, %v", got, err)
	}
}
