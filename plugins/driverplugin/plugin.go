// Package driverplugin holds the runtime driver plugin protocol's Go side in
// one place: the go-plugin handshake, the versioned plugin map, the
// plugin.GRPCPlugin that serves or dispenses a ports.RuntimeDriver, the gRPC
// client and server, and the translation of port sentinel errors to gRPC
// status codes and back. The host (adapters/pluginhost) and the SDK
// (plugins/sdk) both build on it, so they cannot disagree.
package driverplugin

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	driverv2 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v2"
	"github.com/galaxy-game/rtmanager/ports"
)

// ProtocolVersion is the newest driver protocol version this package
// speaks: 2 (plugins/proto/driver/v1's RuntimeDriver plus driver/v2's
// Observe). Hosts and plugins built on this package speak versions 1 and 2
// and agree on the newest they share; a plugin of another version is
// refused at handshake with go-plugin's "incompatible API version" error.
const ProtocolVersion = 2

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

// VersionedPlugins is the host's plugin map: each protocol version
// dispenses PluginName as a *Client (with the Observe service from
// version 2 on).
var VersionedPlugins = map[int]plugin.PluginSet{
	ProtocolV1:      {PluginName: &DriverPlugin{}},
	ProtocolVersion: {PluginName: &DriverPlugin{V2: true}},
}

// ServePlugins returns the plugin map a plugin process serves impl under:
// versions 1 and 2, so hosts of either version can use it.
func ServePlugins(impl ports.RuntimeDriver) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolV1:      {PluginName: &DriverPlugin{Impl: impl}},
		ProtocolVersion: {PluginName: &DriverPlugin{Impl: impl, V2: true}},
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
}

var _ plugin.GRPCPlugin = (*DriverPlugin)(nil)

// GRPCServer registers a server for p.Impl on s.
func (p *DriverPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	driverv1.RegisterRuntimeDriverServer(s, NewServer(p.Impl))
	if p.V2 {
		driverv2.RegisterObserveServer(s, NewObserveServer(p.Impl))
	}
	return nil
}

// GRPCClient returns a *Client over conn. ctx is cancelled by go-plugin when
// the plugin process exits; the client exposes it as Done.
func (p *DriverPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	if p.V2 {
		return NewClientV2(ctx, conn), nil
	}
	return NewClient(ctx, conn), nil
}
