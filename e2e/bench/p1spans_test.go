//go:build bench

package bench

import (
	"context"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// P1 phases. REST phases come from the spans of the operation (client
// clock and span clock are the same machine's); raw phases from timers
// around the moby calls.
const (
	phStartBefore   = "start: request → driver start (validate, image, lease, record reservation)"
	phStartImage    = "start: … of which the image check (driver.local_image)"
	phStartDriver   = "start: driver start (create + start + inspect)"
	phRawCreate     = "start: … create"
	phRawStart      = "start: … start"
	phRawInspect    = "start: … inspect"
	phStartReady    = "start: readiness (probes, inspects, waits)"
	phStartAfter    = "start: running write → response"
	phStopBefore    = "stop: request → driver stop (lease, record read)"
	phStopDriver    = "stop: driver stop"
	phStopAfter     = "stop: driver stop → response (CAS + audit, lease release)"
	phCleanupBefore = "cleanup: request → driver remove"
	phCleanupDriver = "cleanup: driver remove"
	phCleanupAfter  = "cleanup: driver remove → response"
)

// p1PhaseOrder is the order the report lists phases in.
var p1PhaseOrder = []string{phStartBefore, phStartImage, phStartDriver, phRawCreate, phRawStart, phRawInspect, phStartReady, phStartAfter,
	phStopBefore, phStopDriver, phStopAfter, phCleanupBefore, phCleanupDriver, phCleanupAfter}

// span is one exported span.
type span struct {
	trace, name string
	start, end  time.Time
}

// spanCollector is an in-process OTLP trace receiver on loopback.
type spanCollector struct {
	coltrace.UnimplementedTraceServiceServer
	addr  string
	mu    sync.Mutex
	spans []span
}

func startCollector(tb testing.TB) *spanCollector {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer()
	c := &spanCollector{addr: l.Addr().String()}
	coltrace.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(l) }()
	tb.Cleanup(srv.Stop)
	return c
}

// URL is the collector's OTLP endpoint.
func (c *spanCollector) URL() string { return "http://" + c.addr }

// Export implements the OTLP trace service.
func (c *spanCollector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, span{trace: hex.EncodeToString(s.TraceId), name: s.Name,
					start: time.Unix(0, int64(s.StartTimeUnixNano)), end: time.Unix(0, int64(s.EndTimeUnixNano))})
			}
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// await waits (60 s at most) until n start, stop or cleanup operation
// spans have arrived: the exporter sends in batches every few seconds.
func (c *spanCollector) await(tb testing.TB, n int) {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.mu.Lock()
		got := 0
		for _, s := range c.spans {
			if s.name == "rtmanager.start" || s.name == "rtmanager.stop" || s.name == "rtmanager.cleanup" {
				got++
			}
		}
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("collector has %d operation spans, want %d", got, n)
		}
	}
}

// phases splits one REST cycle (marks from restCycle) in its phases.
func (c *spanCollector) phases(tb testing.TB, marks [4]time.Time) map[string]time.Duration {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ph := map[string]time.Duration{}
	ops := []struct {
		kind, driver              string
		before, drv, after, extra string
	}{
		{"start", "driver.start", phStartBefore, phStartDriver, phStartAfter, phStartReady},
		{"stop", "driver.stop", phStopBefore, phStopDriver, phStopAfter, ""},
		{"cleanup", "driver.remove", phCleanupBefore, phCleanupDriver, phCleanupAfter, ""},
	}
	for j, op := range ops {
		from, to := marks[j], marks[j+1]
		var root *span
		for i, s := range c.spans {
			if s.name == "rtmanager."+op.kind && !s.start.Before(from) && !s.start.After(to) {
				root = &c.spans[i]
			}
		}
		if root == nil {
			tb.Fatalf("no rtmanager.%s span between %s and %s", op.kind, from, to)
		}
		var kids []span
		for _, s := range c.spans {
			if s.trace == root.trace && s.name != root.name {
				kids = append(kids, s)
			}
		}
		slices.SortFunc(kids, func(a, b span) int { return a.start.Compare(b.start) })
		i := slices.IndexFunc(kids, func(s span) bool { return s.name == op.driver })
		if i < 0 {
			tb.Fatalf("rtmanager.%s has no %s span", op.kind, op.driver)
		}
		d := kids[i]
		if op.kind == "start" {
			if k := slices.IndexFunc(kids, func(s span) bool { return s.name == "driver.local_image" }); k >= 0 {
				ph[phStartImage] = kids[k].end.Sub(kids[k].start)
			}
		}
		ph[op.before] = d.start.Sub(from)
		ph[op.drv] = d.end.Sub(d.start)
		after := d.end
		if op.extra != "" {
			// The readiness wait ends where the running write begins.
			ready := to
			for _, s := range kids[i+1:] {
				if strings.HasPrefix(s.name, "store.") {
					ready = s.start
					break
				}
			}
			ph[op.extra] = ready.Sub(d.end)
			after = ready
		}
		ph[op.after] = to.Sub(after)
	}
	return ph
}
