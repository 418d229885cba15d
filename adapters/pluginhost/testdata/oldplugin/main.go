// Command oldplugin is the process driver served the way a plugin built for
// an older driver protocol serves it, every call over gRPC:
//
//	oldplugin 1   version 1 only (RuntimeDriver only), so tests prove such a
//	              plugin keeps working and answers logs and stats with
//	              unsupported
//	oldplugin 2   versions 1 and 2 (RuntimeDriver and Observe), so tests
//	              prove it keeps working with a version 3 host and
//	              benchmarks compare the gRPC path with the frame channel
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
	d, err := process.New(process.Config{StateDir: sdk.StateDir("process-old"), Logger: log})
	if err != nil {
		log.Error("process driver", "error", err)
		os.Exit(1)
	}
	hs := driverplugin.Handshake
	versions := map[int]plugin.PluginSet{driverplugin.ProtocolV1: {driverplugin.PluginName: &driverplugin.DriverPlugin{Impl: d}}}
	hs.ProtocolVersion = driverplugin.ProtocolV1
	if len(os.Args) > 1 && os.Args[1] == "2" {
		versions[driverplugin.ProtocolV2] = plugin.PluginSet{driverplugin.PluginName: &driverplugin.DriverPlugin{Impl: d, V2: true}}
		hs.ProtocolVersion = driverplugin.ProtocolV2
	}
	plugin.Serve(&plugin.ServeConfig{HandshakeConfig: hs, VersionedPlugins: versions, GRPCServer: plugin.DefaultGRPCServer})
}
