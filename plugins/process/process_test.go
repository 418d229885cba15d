package process_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// TestConformance runs the driver conformance suite against the process
// driver in-process; every instance of a run shares one state dir, as
// several managers share one runtime.
func TestConformance(t *testing.T) {
	stateDir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T) ports.RuntimeDriver {
			d, err := process.New(process.Config{StateDir: stateDir, Logger: logger})
			if err != nil {
				t.Fatalf("process.New: %v", err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		},
		Image:        "file://" + testenv.EngineBinary(t),
		MissingImage: "file:///nonexistent/rtmanager-engine",
		Port:         8080,
		Caps: drivertest.Caps{
			NoOOM:           "the process driver's OOM detection is a log heuristic (Capabilities.OOMEvents=false)",
			NoDaemonRestart: "in-process: there is no runtime to restart; the plugin host test kills the plugin instead",
		},
	})
}
