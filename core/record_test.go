package core_test

import (
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

func TestRecordMoves(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	r := core.Record{GameID: "g"}.Starting("img:1", map[string]string{"A": "1"}, t0)
	if r.Status != core.StatusStarting || r.Generation != 1 || !r.CreatedAt.Equal(t0) || r.Env["A"] != "1" {
		t.Fatalf("Starting = %+v", r)
	}
	r = r.Running("c1", "127.0.0.1:9", t0.Add(time.Second))
	if r.Status != core.StatusRunning || r.ContainerID != "c1" || r.Endpoint == "" || r.StartedAt == nil {
		t.Fatalf("Running = %+v", r)
	}
	r = r.Stopped(t0.Add(2 * time.Second))
	if r.Status != core.StatusStopped || r.ContainerID != "c1" || r.Endpoint != "" || r.StoppedAt == nil {
		t.Fatalf("Stopped = %+v", r)
	}
	r2 := r.Starting("img:2", nil, t0.Add(3*time.Second))
	if r2.Generation != 2 || !r2.CreatedAt.Equal(t0) || r2.ContainerID != "" {
		t.Fatalf("second Starting = %+v", r2)
	}
	r = r.Removed(t0.Add(4 * time.Second))
	if r.Status != core.StatusRemoved || r.ContainerID != "" || r.Env != nil || r.RemovedAt == nil || !r.LastOpAt.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("Removed = %+v", r)
	}
}

func TestHealthSnapshot(t *testing.T) {
	at := time.Now()
	s := core.HealthEvent{GameID: "g", ContainerID: "c", Type: core.EventHealthCheckFailed, OccurredAt: at,
		Details: map[string]any{"consecutive_failures": 3}}.Snapshot()
	if s.ConsecutiveFailures != 3 || s.LastEventType != core.EventHealthCheckFailed || !s.LastEventAt.Equal(at) {
		t.Fatalf("snapshot = %+v", s)
	}
	for _, n := range []any{int64(4), float64(4)} {
		if got := (core.HealthEvent{Type: core.EventHealthCheckFailed, Details: map[string]any{"consecutive_failures": n}}).Snapshot(); got.ConsecutiveFailures != 4 {
			t.Errorf("failures from %T = %d", n, got.ConsecutiveFailures)
		}
	}
	s = core.HealthEvent{GameID: "g", Type: core.EventHealthCheckRecovered}.Snapshot()
	if s.ConsecutiveFailures != 0 {
		t.Fatalf("recovered snapshot keeps failures: %+v", s)
	}
}
