// Command v2plugin is the process driver served the way a plugin built for
// driver protocol version 2 serves it (versions 1 and 2, every call over
// gRPC), so tests prove such a plugin keeps working with a version 3 host
// and benchmarks compare the gRPC path with the frame channel.
package main

import (
	"os"

	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	d, err := process.New(process.Config{StateDir: sdk.StateDir("process-v2"), Logger: log})
	if err != nil {
		log.Error("process driver", "error", err)
		os.Exit(1)
	}
	hs := driverplugin.Handshake
	hs.ProtocolVersion = driverplugin.ProtocolV2
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		VersionedPlugins: map[int]plugin.PluginSet{
			driverplugin.ProtocolV1: {driverplugin.PluginName: &driverplugin.DriverPlugin{Impl: d}},
			driverplugin.ProtocolV2: {driverplugin.PluginName: &driverplugin.DriverPlugin{Impl: d, V2: true}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
