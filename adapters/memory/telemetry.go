package memory

import (
	"context"
	"sync"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Telemetry is a ports.Telemetry for tests: it counts recovered panics by
// where (what rtmanager_panics_total{where} would show), automatic
// restarts by classification and crash loops, and ignores everything else.
type Telemetry struct {
	ports.NopTelemetry
	mu         sync.Mutex
	panics     map[string]int
	restarts   map[core.ExitClass]int
	crashLoops int
}

var _ ports.Telemetry = (*Telemetry)(nil)

// NewTelemetry returns a Telemetry with no panic counted.
func NewTelemetry() *Telemetry {
	return &Telemetry{panics: map[string]int{}, restarts: map[core.ExitClass]int{}}
}

// AutoRestarted implements ports.Telemetry.
func (t *Telemetry) AutoRestarted(_ context.Context, c core.ExitClass) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.restarts[c]++
}

// CrashLooped implements ports.Telemetry.
func (t *Telemetry) CrashLooped(context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.crashLoops++
}

// Restarts returns how many automatic restarts after an exit of class c
// were counted.
func (t *Telemetry) Restarts(c core.ExitClass) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.restarts[c]
}

// CrashLoops returns how many crash loops were counted.
func (t *Telemetry) CrashLoops() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.crashLoops
}

// Panicked implements ports.Telemetry.
func (t *Telemetry) Panicked(_ context.Context, where string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.panics[where]++
}

// Panics returns how many panics were counted for where.
func (t *Telemetry) Panics(where string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.panics[where]
}
