package memory

import (
	"context"
	"sync"

	"github.com/galaxy-game/rtmanager/ports"
)

// Telemetry is a ports.Telemetry for tests: it counts recovered panics by
// where (what rtmanager_panics_total{where} would show) and ignores
// everything else.
type Telemetry struct {
	ports.NopTelemetry
	mu     sync.Mutex
	panics map[string]int
}

var _ ports.Telemetry = (*Telemetry)(nil)

// NewTelemetry returns a Telemetry with no panic counted.
func NewTelemetry() *Telemetry { return &Telemetry{panics: map[string]int{}} }

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
