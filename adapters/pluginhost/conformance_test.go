package pluginhost_test

import (
	"sync"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/sdk/sdktest"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// TestConformance runs the driver conformance suite against the process
// plugin through the host: a real plugin binary, a real gRPC boundary. All
// hosts of a run share one state dir, as managers share one runtime.
// RestartRuntime SIGKILLs the case's plugins and waits for the respawn,
// through the public sdktest.RestartPlugin an integrator uses.
func TestConformance(t *testing.T) {
	conformance(t, processPlugin(t))
}

// TestConformanceChildPlugin runs the suite against testdata/probeplugin,
// the process driver plus a child process in the plugin's group (as a
// plugin wrapping `docker events` has): PluginProcessGroup proves the host
// ends it when the plugin crashes and when the host closes.
func TestConformanceChildPlugin(t *testing.T) {
	conformance(t, probePlugin(t))
}

func conformance(t *testing.T, bin string) {
	stateDir := t.TempDir()
	var mu sync.Mutex
	hosts := map[*testing.T][]*pluginhost.Host{}
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) ports.RuntimeDriver {
			h := newHost(t, pluginhost.Config{Path: bin, StateDir: stateDir})
			mu.Lock()
			hosts[t] = append(hosts[t], h)
			mu.Unlock()
			return h
		},
		Image:        "file://" + testenv.EngineBinary(t),
		MissingImage: "file:///nonexistent/rtmanager-engine",
		Port:         8080,
		Caps: drivertest.Caps{
			NoOOM: "the process driver's OOM detection is a log heuristic (Capabilities.OOMEvents=false)",
		},
		RestartRuntime: func(t *testing.T) {
			mu.Lock()
			hs := hosts[t]
			mu.Unlock()
			sdktest.RestartPlugin(t, hs...)
		},
	})
}
