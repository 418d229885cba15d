package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// logDriver is the fake driver with logs and stats. logTimes sets
// Capabilities.LogTimes; logErr and statsErr, when set, fail those calls;
// stats is the sample Stats returns.
type logDriver struct {
	*fakedriver.Driver
	logTimes bool

	mu       sync.Mutex
	logErr   error
	statsErr error
	stats    ports.Stats
	reached  []string
	lastOpts ports.LogOptions
}

func (d *logDriver) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	c, err := d.Driver.Capabilities(ctx)
	c.Logs, c.LogTimes, c.Stats = true, d.logTimes, true
	return c, err
}

func (d *logDriver) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	d.mu.Lock()
	d.reached = append(d.reached, "logs "+id)
	d.lastOpts = opts
	err := d.logErr
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := d.Inspect(ctx, id); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "hello from %s\n", id); err != nil {
		return err
	}
	if opts.Follow {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (d *logDriver) Stats(ctx context.Context, id string) (ports.Stats, error) {
	d.mu.Lock()
	d.reached = append(d.reached, "stats "+id)
	st, err := d.stats, d.statsErr
	d.mu.Unlock()
	if err != nil {
		return ports.Stats{}, err
	}
	if _, err := d.Inspect(ctx, id); err != nil {
		return ports.Stats{}, err
	}
	return st, nil
}

func (d *logDriver) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.reached...)
}

// logWorld is a world whose services run on a logDriver.
func logWorld(t *testing.T, logTimes bool) (*world, *logDriver) {
	t.Helper()
	var ld *logDriver
	w := newWorld(t, func(d *lifecycle.Deps) {
		ld = &logDriver{Driver: d.Driver.(*fakedriver.Driver), logTimes: logTimes}
		d.Driver = ld
	})
	return w, ld
}

func TestLogs(t *testing.T) {
	w, ld := logWorld(t, false)
	w.expectOK(w.start("g1", imgA), "")
	id := w.expectStatus("g1", core.StatusRunning).ContainerID
	w.seed("starting", core.StatusStarting) // a record without a container

	var out bytes.Buffer
	ready := 0
	req := lifecycle.LogRequest{Game: "g1", Options: ports.LogOptions{Tail: 10}, Out: &out,
		Ready: func() {
			if len(ld.calls()) != 0 {
				t.Error("Ready was called after the driver was asked")
			}
			ready++
		}}
	if err := w.svc.Logs(w.ctx, req); err != nil || out.String() != "hello from "+id+"\n" || ready != 1 {
		t.Fatalf("Logs = %v, %q (ready %d times); want the container's output, ready once", err, out.String(), ready)
	}
	if ld.lastOpts.Tail != 10 {
		t.Errorf("driver got options %+v, want tail 10", ld.lastOpts)
	}

	// The output of an exited container stays readable.
	w.expectOK(w.stop("g1"), "")
	out.Reset()
	if err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: &out}); err != nil || out.Len() == 0 {
		t.Errorf("Logs of a stopped game = %v, %q; want its output", err, out.String())
	}

	for _, tc := range []struct {
		name string
		req  lifecycle.LogRequest
		code core.Code
	}{
		{"tail below -1", lifecycle.LogRequest{Game: "g1", Options: ports.LogOptions{Tail: -2}}, core.CodeInvalidRequest},
		{"tail above the limit", lifecycle.LogRequest{Game: "g1", Options: ports.LogOptions{Tail: ports.MaxTail + 1}}, core.CodeInvalidRequest},
		{"bad game id", lifecycle.LogRequest{Game: "G1/../x"}, core.CodeInvalidRequest},
		{"empty game id", lifecycle.LogRequest{}, core.CodeInvalidRequest},
		{"unknown game", lifecycle.LogRequest{Game: "nope"}, core.CodeNotFound},
		{"no container yet", lifecycle.LogRequest{Game: "starting"}, core.CodeNotFound},
		{"timestamps without log times", lifecycle.LogRequest{Game: "g1", Options: ports.LogOptions{Timestamps: true}}, core.CodeUnsupported},
		{"since without log times", lifecycle.LogRequest{Game: "g1", Options: ports.LogOptions{Since: w.clock.Now()}}, core.CodeUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ld.calls())
			tc.req.Out = io.Discard
			tc.req.Ready = func() { t.Error("Ready called for a refused request") }
			if err := w.svc.Logs(w.ctx, tc.req); core.CodeOf(err) != tc.code {
				t.Fatalf("Logs = %v, want %s", err, tc.code)
			}
			if len(ld.calls()) != before {
				t.Errorf("the driver was asked for a refused request: %v", ld.calls()[before:])
			}
		})
	}
}

func TestLogsDriverFailures(t *testing.T) {
	w, ld := logWorld(t, true)
	w.expectOK(w.start("g1", imgA), "")
	id := w.expectStatus("g1", core.StatusRunning).ContainerID

	if err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: io.Discard,
		Options: ports.LogOptions{Timestamps: true, Since: w.clock.Now().Add(-time.Minute)}}); err != nil {
		t.Errorf("timestamps and since on a driver with log times = %v", err)
	}

	for _, tc := range []struct {
		name string
		err  error
		code core.Code
	}{
		{"runtime down", fmt.Errorf("socket: %w", ports.ErrUnavailable), core.CodeServiceUnavailable},
		{"refused option", fmt.Errorf("since: %w", ports.ErrUnsupported), core.CodeUnsupported},
		{"container gone meanwhile", fmt.Errorf("x: %w", ports.ErrNotFound), core.CodeNotFound},
		{"uncoded error", errors.New("boom"), core.CodeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ld.mu.Lock()
			ld.logErr = tc.err
			ld.mu.Unlock()
			ready := false
			err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: io.Discard, Ready: func() { ready = true }})
			if core.CodeOf(err) != tc.code || !ready {
				t.Fatalf("Logs = %v (ready %v), want %s after ready", err, ready, tc.code)
			}
		})
	}
	ld.mu.Lock()
	ld.logErr = nil
	ld.mu.Unlock()

	// Capabilities fail before anything is committed.
	w.drv.FailNext(fakedriver.MethodCapabilities, fmt.Errorf("%w: restarting", ports.ErrUnavailable))
	if err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: io.Discard,
		Ready: func() { t.Error("Ready called though capabilities failed") }}); core.CodeOf(err) != core.CodeServiceUnavailable {
		t.Errorf("Logs with failing capabilities = %v, want service_unavailable", err)
	}

	// A follow ended by the caller is a normal end, not an error: the
	// caller goes away once it has the first line.
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	out := &cancelOnWrite{cancel: cancel}
	if err := w.svc.Logs(ctx, lifecycle.LogRequest{Game: "g1", Out: out, Options: ports.LogOptions{Follow: true}}); err != nil {
		t.Errorf("a follow ended by its context = %v, want nil", err)
	}
	if out.String() != "hello from "+id+"\n" {
		t.Errorf("follow wrote %q", out.String())
	}
}

// cancelOnWrite keeps what is written and cancels a context on the first
// write.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	defer c.cancel()
	return c.Buffer.Write(p)
}

func TestStats(t *testing.T) {
	w, ld := logWorld(t, false)
	w.expectOK(w.start("g1", imgA), "")
	id := w.expectStatus("g1", core.StatusRunning).ContainerID

	// A sample without a time is stamped with the services' clock.
	ld.stats = ports.Stats{MemoryBytes: ports.Int64(1 << 20)}
	got, err := w.svc.Stats(w.ctx, "g1")
	if err != nil || got.Game != "g1" || got.ContainerID != id || !got.At.Equal(w.clock.Now()) ||
		got.MemoryBytes == nil || *got.MemoryBytes != 1<<20 {
		t.Fatalf("Stats = %+v, %v; want g1's sample of %s at the clock's now", got, err, id)
	}
	// The driver's own time is kept.
	at := w.clock.Now().Add(-3 * time.Second)
	ld.stats = ports.Stats{At: at}
	if got, err := w.svc.Stats(w.ctx, "g1"); err != nil || !got.At.Equal(at) {
		t.Errorf("Stats = %+v, %v; want the driver's time %s", got, err, at)
	}

	for _, tc := range []struct {
		name, game string
		err        error
		code       core.Code
	}{
		{"bad game id", "-g", nil, core.CodeInvalidRequest},
		{"unknown game", "nope", nil, core.CodeNotFound},
		{"not running", "g1", fmt.Errorf("stopped: %w", ports.ErrNotFound), core.CodeNotFound},
		{"runtime down", "g1", fmt.Errorf("x: %w", ports.ErrUnavailable), core.CodeServiceUnavailable},
		{"uncoded error", "g1", errors.New("boom"), core.CodeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ld.mu.Lock()
			ld.statsErr = tc.err
			ld.mu.Unlock()
			if got, err := w.svc.Stats(w.ctx, tc.game); core.CodeOf(err) != tc.code || got != (lifecycle.StatsSample{}) {
				t.Fatalf("Stats(%q) = %+v, %v; want %s and no sample", tc.game, got, err, tc.code)
			}
		})
	}
}

// TestObserveStoreDown: logs and stats need the game's record; a store
// outage is service_unavailable and does not reach the driver.
func TestObserveStoreDown(t *testing.T) {
	w, ld := logWorld(t, false)
	w.expectOK(w.start("g1", imgA), "")
	w.store.FailNext(memory.MethodGet, errDown)
	if err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: io.Discard}); core.CodeOf(err) != core.CodeServiceUnavailable {
		t.Errorf("Logs with the store down = %v, want service_unavailable", err)
	}
	w.store.FailNext(memory.MethodGet, errDown)
	if _, err := w.svc.Stats(w.ctx, "g1"); core.CodeOf(err) != core.CodeServiceUnavailable {
		t.Errorf("Stats with the store down = %v, want service_unavailable", err)
	}
	if calls := ld.calls(); len(calls) != 0 {
		t.Errorf("the driver was asked: %v", calls)
	}
}

// TestObserveForeignScope: a record whose container id names a container of
// another scope (here a second instance in scope blue reads the default
// scope's game) is not_found for logs and stats; that container's output
// and figures never reach the other instance.
func TestObserveForeignScope(t *testing.T) {
	w, ld := logWorld(t, true)
	w.expectOK(w.start("g1", imgA), "")
	deps := w.deps
	deps.Config.Scope = "blue"
	blue, err := lifecycle.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := blue.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: &out, Ready: func() {}}); core.CodeOf(err) != core.CodeNotFound || out.Len() != 0 {
		t.Errorf("logs of a foreign container = %v, %q; want not_found and nothing", err, out.String())
	}
	if got, err := blue.Stats(w.ctx, "g1"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("stats of a foreign container = %+v, %v; want not_found", got, err)
	}
	if calls := ld.calls(); len(calls) != 0 {
		t.Errorf("the foreign container reached the driver: %v", calls)
	}
	// Its own instance still reads it.
	if err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: &out}); err != nil || out.Len() == 0 {
		t.Errorf("logs in the container's own scope = %v, %q", err, out.String())
	}
}

// TestLogsUnsupported: a driver that does not declare logs is unsupported
// before anything is committed, and stats without a StatsSource likewise.
func TestLogsUnsupported(t *testing.T) {
	w := newWorld(t)
	w.expectOK(w.start("g1", imgA), "")
	err := w.svc.Logs(w.ctx, lifecycle.LogRequest{Game: "g1", Out: io.Discard,
		Ready: func() { t.Error("Ready called for an unsupported request") }})
	if core.CodeOf(err) != core.CodeUnsupported || !strings.Contains(err.Error(), "fake") {
		t.Errorf("Logs on a driver without logs = %v, want unsupported naming the driver", err)
	}
	if _, err := w.svc.Stats(w.ctx, "g1"); core.CodeOf(err) != core.CodeUnsupported {
		t.Errorf("Stats on a driver without stats = %v, want unsupported", err)
	}
}
