package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/adapters/telemetry"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// TestTraceREST_Operation_DriverStore: one REST start produces one trace in
// which the REST span is the root, the operation span its child, and the
// driver and store calls descend from the operation.
func TestTraceREST_Operation_DriverStore(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	ctx := context.Background()
	tel, err := telemetry.New(ctx, telemetry.Config{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	store := memory.NewStore()
	drv := fakedriver.New(nil)
	drv.AddImage("engine:1", fakedriver.Behavior{})
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	traced := tel.WrapStore(store)
	svc, err := lifecycle.New(lifecycle.Deps{Records: traced, Operations: traced, Leases: memory.NewLeases(nil),
		Driver: tel.WrapDriver(drv), Health: memory.NewHealthRecorder(), Snapshots: store, Telemetry: tel, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rest.New(rest.Config{Services: svc, Store: traced, Logger: quiet, Telemetry: tel}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v1/internal/runtimes/g1/start", "application/json",
		strings.NewReader(`{"image_ref":"engine:1"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("start = %v, %v", resp, err)
	}
	resp.Body.Close()

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		if _, seen := byName[s.Name]; !seen {
			byName[s.Name] = s
		}
	}
	root, ok := byName["REST POST /api/v1/internal/runtimes/{game_id}/start"]
	if !ok {
		t.Fatalf("no REST span among %d spans: %v", len(spans), names(spans))
	}
	op, ok := byName["rtmanager.start"]
	if !ok || op.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Fatalf("operation span %+v is not a child of the REST span", op.Parent)
	}
	for _, want := range []string{"driver.start", "driver.prepare_image", "store.Get", "store.Swap", "store.AppendOperation"} {
		s, ok := byName[want]
		if !ok {
			t.Errorf("no %s span among %v", want, names(spans))
			continue
		}
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("%s is in another trace", want)
		}
		if !descends(s, op, spans) {
			t.Errorf("%s does not descend from the operation span", want)
		}
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// descends reports whether s has anc among its ancestors.
func descends(s, anc tracetest.SpanStub, spans tracetest.SpanStubs) bool {
	byID := map[[8]byte]tracetest.SpanStub{}
	for _, x := range spans {
		byID[x.SpanContext.SpanID()] = x
	}
	for cur := s; cur.Parent.IsValid(); {
		if cur.Parent.SpanID() == anc.SpanContext.SpanID() {
			return true
		}
		next, ok := byID[cur.Parent.SpanID()]
		if !ok {
			return false
		}
		cur = next
	}
	return false
}
