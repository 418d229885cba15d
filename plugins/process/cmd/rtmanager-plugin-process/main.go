// Command rtmanager-plugin-process is the shipped runtime driver plugin that
// runs game engine executables as supervised local processes (package
// plugins/process). rtmanager starts it with RTMANAGER_DRIVER=plugin and
// RTMANAGER_PLUGIN_PATH pointing here; it is not meant to be run by hand.
//
// Environment:
//
//	RTM_PROCESS_STATE_DIR  container files and engine logs (default: the
//	                       host's RTMANAGER_PLUGIN_STATE_DIR, else
//	                       ~/.local/state/rtmanager/process)
//	RTM_PROCESS_IMAGE_DIR  where bare image names are resolved (optional;
//	                       file:///abs/path refs always work)
package main

import (
	"os"

	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	stateDir := os.Getenv("RTM_PROCESS_STATE_DIR")
	if stateDir == "" {
		stateDir = sdk.StateDir("process")
	}
	d, err := process.New(process.Config{
		StateDir: stateDir,
		ImageDir: os.Getenv("RTM_PROCESS_IMAGE_DIR"),
		Logger:   log,
	})
	if err != nil {
		log.Error("start process driver", "error", err)
		os.Exit(1)
	}
	sdk.Serve(d)
}
