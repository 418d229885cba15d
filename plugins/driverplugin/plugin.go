// Package driverplugin holds the runtime driver plugin protocol's Go side in
// one place: the go-plugin handshake, the versioned plugin map, the
// plugin.GRPCPlugin that serves or dispenses a ports.RuntimeDriver, the gRPC
// client and server, and the translation of port sentinel errors to gRPC
// status codes and back. The host (adapters/pluginhost) and the SDK
// (plugins/sdk) both build on it, so they cannot disagree.
package driverplugin

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	driverv2 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v2"
	"github.com/galaxy-game/rtmanager/ports"
)

// ProtocolVersion is the newest driver protocol version this package
// speaks: 3, the services of version 2 with their unary calls over the
// frame channel (see frames.go and docs/plugins.md). Hosts and plugins
// built on this package speak versions 1 to 3 and agree on the newest they
// share; a plugin of another version is refused at handshake with
// go-plugin's "incompatible API version" error.
const ProtocolVersion = 3

// ProtocolV2 is protocol version 2: plugins/proto/driver/v1's
// RuntimeDriver plus driver/v2's Observe, every call over gRPC. Its
// plugins keep working, one gRPC round trip per call.
const ProtocolV2 = 2

// ProtocolV1 is the first protocol version: RuntimeDriver only. Its
// plugins keep working; their logs and stats are ports.ErrUnsupported.
const ProtocolV1 = 1

// PluginName is the name the driver is dispensed under.
const PluginName = "driver"

// Handshake is shared by the host and every plugin. The magic cookie is not
// a security measure: it only stops a user from running a plugin binary by
// hand, and the host from launching a binary that is not a driver plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RTMANAGER_DRIVER_PLUGIN",
	MagicCookieValue: "7d1c5b8e-runtime-driver",
}

// EnvFramesFD names the environment variable in which the host tells a
// plugin the file descriptor of its end of the frame channel (always 3: the
// host's exec.Cmd.ExtraFiles). The host sets it when it offers protocol
// version 3.
const EnvFramesFD = "RTMANAGER_PLUGIN_FRAMES_FD"

// HostPlugins returns the host's plugin map for one plugin launch: each
// protocol version dispenses PluginName as a *Client (with the Observe
// service from version 2 on; with the unary calls over frames, the host's
// end of the frame channel, from version 3 on).
func HostPlugins(frames net.Conn) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolV1:      {PluginName: &DriverPlugin{}},
		ProtocolV2:      {PluginName: &DriverPlugin{V2: true}},
		ProtocolVersion: {PluginName: &DriverPlugin{V2: true, Frames: frames}},
	}
}

// ServePlugins returns the plugin map a plugin process serves impl under:
// versions 1 to 3, so hosts of any of them can use it.
func ServePlugins(impl ports.RuntimeDriver) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolV1:      {PluginName: &DriverPlugin{Impl: impl}},
		ProtocolV2:      {PluginName: &DriverPlugin{Impl: impl, V2: true}},
		ProtocolVersion: {PluginName: &DriverPlugin{Impl: impl, V2: true, V3: true}},
	}
}

// DriverPlugin is the plugin.GRPCPlugin of the driver protocol. A plugin
// sets Impl and serves it; the host leaves Impl nil and dispenses a
// *Client.
type DriverPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the driver a plugin process serves.
	Impl ports.RuntimeDriver
	// V2 serves (or dispenses) protocol version 2: the Observe service too.
	V2 bool
	// V3 serves protocol version 3: the unary calls over the frame channel
	// named by EnvFramesFD too.
	V3 bool
	// Frames is the host's end of the frame channel; set, the host
	// dispenses a protocol version 3 client.
	Frames net.Conn
}

var _ plugin.GRPCPlugin = (*DriverPlugin)(nil)

// GRPCServer registers a server for p.Impl on s, and with V3 on the frame
// channel too, which it then serves.
func (p *DriverPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	registrars := []grpc.ServiceRegistrar{s}
	var frames net.Conn
	if p.V3 {
		conn, err := inheritedFrames()
		if err != nil {
			return err
		}
		frames = conn
		fs := NewFrameServer()
		registrars = append(registrars, fs)
		defer func() { go fs.Serve(frames) }()
	}
	rd, ob := NewServer(p.Impl), NewObserveServer(p.Impl)
	for _, r := range registrars {
		driverv1.RegisterRuntimeDriverServer(r, rd)
		if p.V2 {
			driverv2.RegisterObserveServer(r, ob)
		}
	}
	return nil
}

// inheritedFrames returns the plugin's end of the frame channel, the
// descriptor EnvFramesFD names.
func inheritedFrames() (net.Conn, error) {
	v := os.Getenv(EnvFramesFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("driver protocol %d: %s=%q does not name an inherited descriptor", ProtocolVersion, EnvFramesFD, v)
	}
	f := os.NewFile(uintptr(fd), "frames")
	defer f.Close() // FileConn holds a duplicate
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("driver protocol %d: frame channel (fd %d): %w", ProtocolVersion, fd, err)
	}
	return conn, nil
}

// init keeps the inherited frame channel out of every process the plugin
// starts (engines, CLIs) before Serve picks it up: it is inherited without
// close-on-exec.
func init() {
	if fd, err := strconv.Atoi(os.Getenv(EnvFramesFD)); err == nil && fd >= 3 {
		syscall.CloseOnExec(fd)
	}
}

// GRPCClient returns a *Client over conn (and p.Frames when set). ctx is
// cancelled by go-plugin when the plugin process exits; the client exposes
// it as Done.
func (p *DriverPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	switch {
	case p.Frames != nil:
		return NewClientV3(ctx, conn, p.Frames), nil
	case p.V2:
		return NewClientV2(ctx, conn), nil
	}
	return NewClient(ctx, conn), nil
}
