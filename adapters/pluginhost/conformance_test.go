package pluginhost_test

import (
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// TestConformance runs the driver conformance suite against the process
// plugin through the host: a real plugin binary, a real gRPC boundary. All
// hosts of a run share one state dir, as managers share one runtime.
// RestartRuntime SIGKILLs the case's plugins and waits for the respawn.
func TestConformance(t *testing.T) {
	bin := processPlugin(t)
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
			for _, h := range hs {
				old := h.PluginPID()
				killPlugin(t, h)
				waitFor(t, 30*time.Second, "the plugin to be respawned", func() bool {
					pid := h.PluginPID()
					return pid != 0 && pid != old
				})
			}
		},
	})
}
