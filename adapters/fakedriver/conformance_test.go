package fakedriver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// TestConformance runs the driver conformance suite against a live fake,
// with every case the real drivers run: its containers serve the test
// engine's HTTP API on real loopback ports and honour the test engine's
// ENGINE_* variables, and stop timeouts take real time.
func TestConformance(t *testing.T) {
	const image = "rtmanager-test-engine:latest"
	// The fake is a runtime and its client in one, so every instance the
	// suite asks for is this Driver, as every manager sharing a runtime
	// sees the same containers.
	d := fakedriver.NewLive()
	d.AddImage(image, fakedriver.Behavior{})
	drivertest.Run(t, drivertest.Harness{
		New:          func(*testing.T) ports.RuntimeDriver { return d },
		Image:        image,
		MissingImage: "rtmanager-missing.invalid/engine:none",
		Port:         8080,
		RestartRuntime: func(t *testing.T) {
			d.SetDown(true)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := d.Capabilities(ctx); !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("Capabilities while the runtime is down = %v, want ErrUnavailable", err)
			}
			d.SetDown(false)
		},
	})
}
