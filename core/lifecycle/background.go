package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Janitor cleans up runtimes that have been stopped for longer than After.
type Janitor struct {
	b       *base
	cleanup *Cleaner
	After   time.Duration
}

// NewJanitor returns a janitor sharing s's dependencies.
func (s *Services) NewJanitor(after time.Duration) *Janitor {
	return &Janitor{b: s.b, cleanup: s.Cleanup, After: after}
}

// Pass runs cleanup (op_source janitor) for every runtime stopped longer
// than After, and returns how many it cleaned and how many failed. Its error
// reports only that the records could not be listed.
func (j *Janitor) Pass(ctx context.Context) (cleaned, failed int, err error) {
	cutoff := j.b.Now().Add(-j.After)
	q := ports.ListQuery{Status: core.StatusStopped, Limit: listPage}
	for {
		page, next, err := j.b.Records.List(ctx, q)
		if err != nil {
			return cleaned, failed, fmt.Errorf("janitor: list stopped records: %w", err)
		}
		for _, rec := range page {
			if rec.StoppedAt == nil || rec.StoppedAt.After(cutoff) {
				continue
			}
			res, err := j.cleanup.Handle(ctx, CleanupInput{GameID: rec.GameID, Meta: Meta{Source: core.SourceJanitor}})
			switch {
			case err != nil, res.Outcome == core.OutcomeFailure:
				failed++
			case res.ErrorCode == "":
				cleaned++
			}
		}
		if next == "" {
			return cleaned, failed, nil
		}
		q.After = next
	}
}

// Monitor turns driver events and HTTP probes into record repairs and
// health events.
type Monitor struct {
	rec *Reconciler
	// ProbeFailures is how many consecutive missed probes make a
	// health_check_failed event.
	ProbeFailures int
	// ProbeWorkers bounds how many engines are probed at once.
	ProbeWorkers int

	mu       sync.Mutex
	failures map[string]int // by container id
}

// NewMonitor returns a monitor sharing s's dependencies.
func (s *Services) NewMonitor(probeFailures int) *Monitor {
	return &Monitor{rec: s.NewReconciler(0), ProbeFailures: max(probeFailures, 1), ProbeWorkers: 16,
		failures: map[string]int{}}
}

// HandleEvent reacts to one driver event. An exit of a running game's
// current container settles its record (→ stopped with container_exited),
// and its removal (running or stopped: `docker rm -f` kills, then removes)
// moves it to removed with container_disappeared, under the game's lease;
// an OOM kill publishes container_oom. Events about other containers are
// ignored: the operation that caused them records them.
func (m *Monitor) HandleEvent(ctx context.Context, ev ports.Event) {
	b := m.rec.b
	game := ev.Labels[ports.LabelGameID]
	if core.ValidateGameID(game) != nil || !b.inScope(ports.Container{Labels: ev.Labels}) {
		return
	}
	rec, found, err := b.load(ctx, game)
	if err != nil || !found || rec.ContainerID != ev.ContainerID {
		return
	}
	running, stopped := rec.Status == core.StatusRunning, rec.Status == core.StatusStopped
	switch {
	case ev.Type == ports.EventOOM && running:
		b.publish(ctx, core.EventContainerOOM, rec, nil)
	case ev.Type == ports.EventExited && running, ev.Type == ports.EventRemoved && (running || stopped):
		// The repair records its own outcome; there is no pass to report to.
		m.rec.repair(ctx, game)
	}
}

// ProbeAll probes every running engine once and publishes
// health_check_failed when a game reaches ProbeFailures consecutive misses
// and health_check_recovered on its first success after that.
func (m *Monitor) ProbeAll(ctx context.Context) error {
	b := m.rec.b
	if b.Prober == nil {
		return nil
	}
	work := make(chan core.Record)
	var wg sync.WaitGroup
	for range max(m.ProbeWorkers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range work {
				ports.Guard(ctx, b.Telemetry, b.log, "probe", func() { m.probe(ctx, rec) })
			}
		}()
	}
	defer func() { close(work); wg.Wait() }()
	live := map[string]bool{}
	q := ports.ListQuery{Status: core.StatusRunning, Limit: listPage}
	for {
		page, next, err := b.Records.List(ctx, q)
		if err != nil {
			return fmt.Errorf("monitor: list running records: %w", err)
		}
		for _, rec := range page {
			if rec.Endpoint == "" {
				continue
			}
			live[rec.ContainerID] = true
			select {
			case work <- rec:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if next == "" {
			break
		}
		q.After = next
	}
	m.mu.Lock()
	for id := range m.failures {
		if !live[id] {
			delete(m.failures, id)
		}
	}
	m.mu.Unlock()
	return nil
}

func (m *Monitor) probe(ctx context.Context, rec core.Record) {
	b := m.rec.b
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := b.Prober.Probe(pctx, rec.Endpoint)
	cancel()
	m.mu.Lock()
	n := m.failures[rec.ContainerID]
	if err == nil {
		delete(m.failures, rec.ContainerID)
	} else {
		m.failures[rec.ContainerID] = n + 1
	}
	m.mu.Unlock()
	switch {
	case err == nil && n >= m.ProbeFailures:
		b.publish(ctx, core.EventHealthCheckRecovered, rec, map[string]any{"after_failures": n})
	case err != nil && n+1 == m.ProbeFailures:
		b.publish(ctx, core.EventHealthCheckFailed, rec,
			map[string]any{"consecutive_failures": n + 1, "last_error": err.Error()})
	}
}
