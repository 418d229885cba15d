// Command v1plugin is the process driver served the way a plugin built for
// driver protocol version 1 serves it (RuntimeDriver only, version 1 only),
// so tests prove such a plugin keeps working with a version 2 host and
// answers logs and stats with unsupported.
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
	d, err := process.New(process.Config{StateDir: sdk.StateDir("process-v1"), Logger: log})
	if err != nil {
		log.Error("process driver", "error", err)
		os.Exit(1)
	}
	hs := driverplugin.Handshake
	hs.ProtocolVersion = driverplugin.ProtocolV1
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{driverplugin.ProtocolV1: {driverplugin.PluginName: &driverplugin.DriverPlugin{Impl: d}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
