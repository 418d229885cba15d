package fakedriver

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testengine"
	"github.com/galaxy-game/rtmanager/ports"
)

// container is the driver's state of one container and its simulated
// engine.
type container struct {
	c        ports.Container
	spec     ports.ContainerSpec
	behavior Behavior
	// knobs are the test engine variables of the container's env.
	knobs testengine.Config
	ready bool
	seq   int
	// done is closed when the engine ends (exit, kill or vanishing).
	done   chan struct{}
	halted bool
	timers []*time.Timer
	// srv serves the engine's HTTP API on a live driver.
	srv *http.Server
}

// getenv returns the value of key in the env the engine sees: the spec's
// env with PORT set to the container port, as a driver that publishes
// ports passes it.
func (c *container) getenv(key string) string {
	if key == "PORT" {
		return strconv.Itoa(c.spec.Port)
	}
	return c.spec.Env[key]
}

// env returns the whole env the engine sees.
func (c *container) env() map[string]string {
	out := make(map[string]string, len(c.spec.Env)+1)
	for k := range c.spec.Env {
		out[k] = c.getenv(k)
	}
	out["PORT"] = c.getenv("PORT")
	return out
}

func (c *container) ignoresSIGTERM() bool {
	return c.behavior.IgnoreSIGTERM || c.knobs.IgnoreSIGTERM
}

// run lets the engine of a container that just started behave as its
// image's Behavior and its test engine variables say; it runs under d.mu.
// The variables' durations are real time.
func (d *Driver) run(c *container) {
	if c.behavior.ExitOnStart {
		d.exit(c, c.behavior.ExitCode, false)
		return
	}
	k, err := testengine.Read(c.getenv)
	if err != nil {
		d.exit(c, testengine.ExitBadConfig, false)
		return
	}
	c.knobs = k
	if k.StartDelay > 0 && c.ready {
		c.ready = false
		d.after(c, k.StartDelay, func() {
			c.ready = k.UnhealthyAfter <= 0 || k.UnhealthyAfter > k.StartDelay
		})
	}
	if k.UnhealthyAfter > 0 {
		d.after(c, k.UnhealthyAfter, func() { c.ready = false })
	}
	if k.ExitAfter > 0 {
		d.after(c, k.ExitAfter, func() { d.exit(c, k.ExitCode, false) })
	}
	if k.OOM {
		d.after(c, k.OOMAfter, func() { d.exit(c, KillExitCode, true) })
	}
}

// after runs f under d.mu once wait has passed, if c still runs then; it
// runs under d.mu.
func (d *Driver) after(c *container, wait time.Duration, f func()) {
	c.timers = append(c.timers, time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.containers[c.c.ID] == c && c.c.State == ports.StateRunning {
			f()
		}
	}))
}

// halt ends c's engine: its timers, its HTTP server, and anyone waiting on
// done. It runs under d.mu and is idempotent.
func (c *container) halt() {
	if c.halted {
		return
	}
	c.halted = true
	for _, t := range c.timers {
		t.Stop()
	}
	if c.srv != nil {
		_ = c.srv.Close() // the engine is gone; open connections break, as they would
	}
	close(c.done)
}

// serve starts c's engine HTTP server on a free port of host and returns
// its endpoint; it runs under d.mu.
func (c *container) serve(d *Driver, host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("publish the engine port on %s: %w", host, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		d.mu.Lock()
		ready := c.ready && c.c.State == ports.StateRunning
		d.mu.Unlock()
		if !ready {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.env()) // spec is immutable after Start
	})
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = c.srv.Serve(ln) }() // ends with ErrServerClosed at halt
	return ln.Addr().String(), nil
}
