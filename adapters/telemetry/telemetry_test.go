package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/telemetry"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// stubDriver answers every call with not-found or an empty value; it only
// exists to drive the driver middleware.
type stubDriver struct{}

func (stubDriver) PrepareImage(context.Context, string) error { return nil }
func (stubDriver) Start(context.Context, ports.ContainerSpec) (ports.Container, error) {
	return ports.Container{ID: "c1", State: ports.StateRunning}, nil
}
func (stubDriver) Stop(context.Context, string, time.Duration) error { return ports.ErrNotFound }
func (stubDriver) Remove(context.Context, string) error              { return nil }
func (stubDriver) Inspect(context.Context, string) (ports.Container, error) {
	return ports.Container{}, ports.ErrNotFound
}
func (stubDriver) List(context.Context, map[string]string) ([]ports.Container, error) {
	return nil, nil
}
func (stubDriver) Events(ctx context.Context) (<-chan ports.Event, error) {
	ch := make(chan ports.Event)
	close(ch)
	return ch, nil
}
func (stubDriver) Capabilities(context.Context) (ports.Capabilities, error) {
	return ports.Capabilities{}, ports.ErrUnavailable
}

var _ ports.RuntimeDriver = stubDriver{}

func mustNew(tb testing.TB) *telemetry.Telemetry {
	tb.Helper()
	tel, err := telemetry.New(context.Background(), telemetry.Config{ServiceName: "rtmanager-test", Version: "v0"})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
	})
	return tel
}

func scrape(tb testing.TB, h http.Handler) string {
	tb.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("scrape: status %d, err %v", resp.StatusCode, err)
	}
	return string(body)
}

// typeNames returns the metric families of an exposition by name.
func typeNames(exposition string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(exposition, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	return out
}

func TestExpositionNames(t *testing.T) {
	tel := mustNew(t)
	ctx := context.Background()
	tel.OperationDone(ctx, core.OperationEntry{OpKind: core.OpStart, OpSource: core.SourceStream,
		Outcome: core.OutcomeFailure, ErrorCode: core.CodeConflict}, 1500*time.Millisecond)
	tel.LeaseAcquire(ctx, 2*time.Millisecond)
	tel.HealthEvent(ctx, core.EventContainerStarted)
	tel.Panicked(ctx, "ingress_job")
	tel.ImagePull(ctx, "unauthorized", 250*time.Millisecond)
	d := tel.WrapDriver(stubDriver{})
	if _, err := d.Start(ctx, ports.ContainerSpec{Name: "rtm-g-1"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx, "c1", time.Second); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Stop through middleware = %v, want ErrNotFound", err)
	}
	tel.ObservePending(func(context.Context) (map[string]int64, error) {
		return map[string]int64{ports.StreamStartJobs: 3, ports.StreamStopJobs: 0}, nil
	})
	store := memory.NewStore()
	tel.ObserveRuntimes(store.CountByStatus)

	got := scrape(t, tel.Handler())
	want := map[string]string{
		"rtmanager_operations_total":               "counter",
		"rtmanager_operation_duration_seconds":     "histogram",
		"rtmanager_lease_acquire_duration_seconds": "histogram",
		"rtmanager_driver_call_duration_seconds":   "histogram",
		"rtmanager_health_events_total":            "counter",
		"rtmanager_panics_total":                   "counter",
		"rtmanager_stream_pending":                 "gauge",
		"rtmanager_runtimes":                       "gauge",
		"rtmanager_image_pulls_total":              "counter",
		"rtmanager_image_pull_duration_seconds":    "histogram",
	}
	types := typeNames(got)
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("# TYPE %s = %q, want %q", name, types[name], typ)
		}
	}
	for name := range types {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected metric family %q", name)
		}
	}
	for _, line := range []string{
		`rtmanager_operations_total{error_code="conflict",op_kind="start",op_source="stream",outcome="failure"} 1`,
		`rtmanager_operation_duration_seconds_count{op_kind="start"} 1`,
		`rtmanager_operation_duration_seconds_sum{op_kind="start"} 1.5`,
		`rtmanager_health_events_total{event_type="container_started"} 1`,
		`rtmanager_panics_total{where="ingress_job"} 1`,
		`rtmanager_driver_call_duration_seconds_count{call="start"} 1`,
		`rtmanager_driver_call_duration_seconds_count{call="stop"} 1`,
		`rtmanager_stream_pending{stream="runtime:start_jobs"} 3`,
		`rtmanager_runtimes{status="running"} 0`,
		`rtmanager_lease_acquire_duration_seconds_count 1`,
		`rtmanager_image_pulls_total{result="unauthorized"} 1`,
		`rtmanager_image_pull_duration_seconds_sum{result="unauthorized"} 0.25`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("exposition lacks %q", line)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", got)
	}
}

func TestObserveFailureLeavesGaugeOut(t *testing.T) {
	tel := mustNew(t)
	tel.ObservePending(func(context.Context) (map[string]int64, error) {
		return nil, ports.ErrUnavailable
	})
	tel.ObserveRuntimes(func(context.Context) (map[core.Status]int, error) {
		return map[core.Status]int{core.StatusRunning: 2}, nil
	})
	got := scrape(t, tel.Handler())
	if strings.Contains(got, "rtmanager_stream_pending{") {
		t.Errorf("failed source still reported:\n%s", got)
	}
	if !strings.Contains(got, `rtmanager_runtimes{status="running"} 2`) {
		t.Errorf("runtimes gauge missing:\n%s", got)
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	tel := mustNew(t)
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx, end := tel.Span(context.Background(), "rtmanager.start")
	log.InfoContext(ctx, "inside")
	end(core.Errorf(core.CodeConflict, "busy"))
	log.InfoContext(context.Background(), "outside")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), buf.String())
	}
	var in, out map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &out); err != nil {
		t.Fatal(err)
	}
	if id, _ := in["trace_id"].(string); len(id) != 32 {
		t.Errorf("trace_id = %q, want 32 hex digits", in["trace_id"])
	}
	if id, _ := in["span_id"].(string); len(id) != 16 {
		t.Errorf("span_id = %q, want 16 hex digits", in["span_id"])
	}
	if in["component"] != "test" {
		t.Errorf("component attribute lost: %v", in)
	}
	if _, ok := out["trace_id"]; ok {
		t.Errorf("trace_id without a span: %v", out)
	}
}

func TestWrapStorePassesThrough(t *testing.T) {
	tel := mustNew(t)
	ctx := context.Background()
	s := tel.WrapStore(memory.NewStore())
	if _, err := s.Get(ctx, "g1"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	rec := core.Record{GameID: "g1", Status: core.StatusStopped, CreatedAt: time.Unix(0, 0).UTC()}
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "g1")
	if err != nil || got.Status != core.StatusStopped {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBadOTLPEndpoint(t *testing.T) {
	_, err := telemetry.New(context.Background(), telemetry.Config{OTLPEndpoint: "http://[::1"})
	if err == nil {
		t.Fatal("New accepted a malformed OTLP endpoint URL")
	}
	_, err = telemetry.New(context.Background(), telemetry.Config{OTLPEndpoint: "collector"})
	if err == nil {
		t.Fatal("New accepted a malformed OTLP endpoint URL")
	}
}

func TestOTLPEndpointAccepted(t *testing.T) {
	// The gRPC exporter connects lazily, so an unreachable collector does
	// not fail New; Shutdown must still return within its deadline.
	for _, ep := range []string{"http://127.0.0.1:1", "127.0.0.1:1"} {
		tel, err := telemetry.New(context.Background(), telemetry.Config{OTLPEndpoint: ep})
		if err != nil {
			t.Fatalf("New(%q): %v", ep, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = tel.Shutdown(ctx) // no span was recorded; a flush error is fine
		cancel()
	}
}
