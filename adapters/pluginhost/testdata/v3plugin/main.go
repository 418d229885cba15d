// Command v3plugin is a test plugin that speaks a driver protocol version
// the host does not know (3), so the host must refuse it at handshake.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
)

func main() {
	hs := driverplugin.Handshake
	hs.ProtocolVersion = 3
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{3: {driverplugin.PluginName: &driverplugin.DriverPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
