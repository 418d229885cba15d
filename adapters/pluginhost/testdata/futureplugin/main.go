// Command futureplugin is a test plugin that speaks a driver protocol
// version the host does not know (99), so the host must refuse it at handshake.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
)

func main() {
	hs := driverplugin.Handshake
	hs.ProtocolVersion = 99
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{99: {driverplugin.PluginName: &driverplugin.DriverPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
