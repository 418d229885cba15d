// Command rtmanager-plugin-process is the shipped runtime driver plugin that
// runs game engine executables as supervised local processes (package
// plugins/process). rtmanager starts it with RTMANAGER_DRIVER=plugin and
// RTMANAGER_PLUGIN_PATH pointing here; it is not meant to be run by hand.
//
// Flags (through RTMANAGER_PLUGIN_ARGS, comma-separated):
//
//	--user=UID:GID       run engines as this numeric user unless the spec
//	                     names one (RTMANAGER_ENGINE_USER); needs a root plugin
//	--cgroup-root=DIR    a writable cgroup v2 directory: each engine gets a
//	                     child cgroup with memory.max, cpu.max and pids.max
//	--image-root=DIR     file:// images must lie under DIR
//	--max-open-files=N   RLIMIT_NOFILE of an engine (default 4096)
//	--image-dir=DIR      where bare image names are resolved
//	--state-dir=DIR      container files and engine logs
//
// Without --user and --cgroup-root the driver is for development only: it
// says so in a warning at start-up (see docs/plugins.md).
//
// Environment, when the flags are not given (the host passes only an
// allow-list of rtmanager's environment, so under rtmanager use the flags):
//
//	RTM_PROCESS_STATE_DIR  container files and engine logs (default: the
//	                       host's RTMANAGER_PLUGIN_STATE_DIR, else
//	                       ~/.local/state/rtmanager/process)
//	RTM_PROCESS_IMAGE_DIR  where bare image names are resolved (optional;
//	                       file:///abs/path refs always work)
package main

import (
	"flag"
	"os"

	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	fs := flag.NewFlagSet("rtmanager-plugin-process", flag.ContinueOnError)
	user := fs.String("user", "", "numeric uid:gid engines run as")
	cgroupRoot := fs.String("cgroup-root", "", "writable cgroup v2 directory for per-engine cgroups")
	imageRoot := fs.String("image-root", "", "directory file:// images must lie under")
	nofile := fs.Uint64("max-open-files", 0, "RLIMIT_NOFILE of an engine (0: 4096)")
	imageDir := fs.String("image-dir", os.Getenv("RTM_PROCESS_IMAGE_DIR"), "where bare image names are resolved")
	stateDir := fs.String("state-dir", os.Getenv("RTM_PROCESS_STATE_DIR"), "container files and engine logs")
	if err := fs.Parse(os.Args[1:]); err != nil {
		log.Error("process plugin arguments (RTMANAGER_PLUGIN_ARGS)", "error", err)
		os.Exit(2)
	}
	if *stateDir == "" {
		*stateDir = sdk.StateDir("process")
	}
	d, err := process.New(process.Config{
		StateDir:     *stateDir,
		ImageDir:     *imageDir,
		Logger:       log,
		User:         *user,
		CgroupRoot:   *cgroupRoot,
		ImageRoot:    *imageRoot,
		MaxOpenFiles: *nofile,
	})
	if err != nil {
		log.Error("start process driver", "error", err)
		os.Exit(1)
	}
	sdk.Serve(d)
}
