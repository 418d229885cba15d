package lifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

const (
	imgA    = "engine:a"
	imgB    = "engine:b"
	imgDies = "engine:dies"
	imgDead = "engine:never-ready"
	imgGone = "engine:missing"
)

// world is the set of fakes one test runs the services against.
type world struct {
	t      *testing.T
	clock  *memory.Clock
	store  *racingStore
	leases *memory.Leases
	health *memory.HealthRecorder
	drv    *fakedriver.Driver
	svc    *lifecycle.Services
	ctx    context.Context
	// deps are what svc was built from, for a second instance.
	deps lifecycle.Deps
}

// racingStore lets a test run a concurrent change right before a Swap, to
// make the caller lose its compare-and-swap to "another path".
type racingStore struct {
	*memory.Store
	mu         sync.Mutex
	beforeSwap func()
}

func (s *racingStore) Swap(ctx context.Context, expect ports.Expect, next core.Record) error {
	s.mu.Lock()
	hook := s.beforeSwap
	s.beforeSwap = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return s.Store.Swap(ctx, expect, next)
}

func (s *racingStore) raceNextSwap(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeSwap = f
}

// raceNextSwapTo makes another path move game's record from its current
// value to move(current) right before the services' next Swap, so they lose
// that compare-and-swap.
func (w *world) raceNextSwapTo(game string, move func(core.Record) core.Record) {
	w.t.Helper()
	rec, ok := w.record(game)
	if !ok {
		w.t.Fatalf("game %s has no record", game)
	}
	w.store.raceNextSwap(func() {
		if err := w.store.Store.Swap(w.ctx, ports.ExpectOf(rec), move(rec)); err != nil {
			w.t.Error(err)
		}
	})
}

// stoppedBy is a move of raceNextSwapTo: another stop.
func (w *world) stoppedBy(rec core.Record) core.Record { return rec.Stopped(w.clock.Now()) }

// newContainer is a move of raceNextSwapTo: the game now runs another
// container of the next generation.
func (w *world) newContainer(rec core.Record) core.Record {
	moved := rec.Running("other-container", rec.Endpoint, w.clock.Now())
	moved.Generation++
	return moved
}

func newWorld(t *testing.T, tweak ...func(*lifecycle.Deps)) *world {
	t.Helper()
	clock := memory.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	w := &world{t: t, clock: clock, store: &racingStore{Store: memory.NewStore()},
		leases: memory.NewLeases(clock.Now), drv: fakedriver.New(clock.Now), ctx: context.Background()}
	w.health = memory.NewHealthRecorder()
	w.drv.AddImage(imgA, fakedriver.Behavior{})
	w.drv.AddImage(imgB, fakedriver.Behavior{})
	w.drv.AddImage(imgDies, fakedriver.Behavior{ExitOnStart: true, ExitCode: 3})
	w.drv.AddImage(imgDead, fakedriver.Behavior{NeverReady: true})
	deps := lifecycle.Deps{
		Records: w.store, Operations: w.store, Leases: w.leases, Driver: w.drv, Health: w.health, Snapshots: w.store,
		Prober: w.drv.Prober(), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: clock.Now,
		Config: lifecycle.Config{StartTimeout: 300 * time.Millisecond, ReadyPoll: 5 * time.Millisecond,
			StopTimeout: time.Second},
	}
	for _, f := range tweak {
		f(&deps)
	}
	svc, err := lifecycle.New(deps)
	if err != nil {
		t.Fatalf("lifecycle.New: %v", err)
	}
	w.svc, w.deps = svc, deps
	return w
}

func rest() lifecycle.Meta { return lifecycle.Meta{Source: core.SourceREST, SourceRef: "req-1"} }

func (w *world) start(game, image string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: game, ImageRef: image, Meta: rest()}))
}

func (w *world) stop(game string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Stop.Handle(w.ctx, lifecycle.StopInput{GameID: game, Reason: core.ReasonAdminRequest, Meta: rest()}))
}

func (w *world) restart(game string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Restart.Handle(w.ctx, lifecycle.RestartInput{GameID: game, Meta: rest()}))
}

func (w *world) patch(game, image string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Patch.Handle(w.ctx, lifecycle.PatchInput{GameID: game, ImageRef: image, Meta: rest()}))
}

func (w *world) cleanup(game string) lifecycle.Result {
	w.t.Helper()
	return must(w.t)(w.svc.Cleanup.Handle(w.ctx, lifecycle.CleanupInput{GameID: game, Meta: rest()}))
}

func must(t *testing.T) func(lifecycle.Result, error) lifecycle.Result {
	return func(r lifecycle.Result, err error) lifecycle.Result {
		t.Helper()
		if err != nil {
			t.Fatalf("programmer error: %v", err)
		}
		return r
	}
}

// seed brings game into status from (none, running, stopped, removed, starting).
func (w *world) seed(game string, from core.Status) {
	w.t.Helper()
	switch from {
	case "":
		return
	case core.StatusStarting:
		rec := core.Record{GameID: game}.Starting(imgA, nil, w.clock.Now())
		if err := w.store.Create(w.ctx, rec); err != nil {
			w.t.Fatal(err)
		}
		return
	}
	w.expectOK(w.start(game, imgA), "")
	switch from {
	case core.StatusStopped:
		w.expectOK(w.stop(game), "")
	case core.StatusRemoved:
		w.expectOK(w.stop(game), "")
		w.expectOK(w.cleanup(game), "")
	}
	w.expectStatus(game, from)
}

func (w *world) expectOK(r lifecycle.Result, code core.Code) {
	w.t.Helper()
	if r.Outcome != core.OutcomeSuccess || r.ErrorCode != code {
		w.t.Fatalf("result = %s/%s (%s), want success/%q", r.Outcome, r.ErrorCode, r.ErrorMessage, code)
	}
}

func (w *world) expectFail(r lifecycle.Result, code core.Code) {
	w.t.Helper()
	if r.Outcome != core.OutcomeFailure || r.ErrorCode != code {
		w.t.Fatalf("result = %s/%s (%s), want failure/%s", r.Outcome, r.ErrorCode, r.ErrorMessage, code)
	}
	if r.ErrorMessage == "" {
		w.t.Fatalf("failure %s without a message", code)
	}
}

func (w *world) record(game string) (core.Record, bool) {
	rec, err := w.store.Get(w.ctx, game)
	if err != nil {
		return core.Record{}, false
	}
	return rec, true
}

func (w *world) expectStatus(game string, want core.Status) core.Record {
	w.t.Helper()
	rec, ok := w.record(game)
	if want == "" {
		if ok {
			w.t.Fatalf("game %s has a record %+v, want none", game, rec)
		}
		return rec
	}
	if !ok || rec.Status != want {
		w.t.Fatalf("game %s record = %+v (found %v), want status %s", game, rec, ok, want)
	}
	return rec
}

// live returns the running containers of game.
func (w *world) live(game string) []ports.Container {
	var out []ports.Container
	for _, c := range w.drv.Containers() {
		if c.Labels[ports.LabelGameID] == game && c.State == ports.StateRunning {
			out = append(out, c)
		}
	}
	return out
}

// all returns every container of game, running or not.
func (w *world) all(game string) []ports.Container {
	var out []ports.Container
	for _, c := range w.drv.Containers() {
		if c.Labels[ports.LabelGameID] == game {
			out = append(out, c)
		}
	}
	return out
}

// ops returns the audit entries of game, oldest first.
func (w *world) ops(game string) []core.OperationEntry {
	var out []core.OperationEntry
	for _, e := range w.store.Operations() {
		if e.GameID == game {
			out = append(out, e)
		}
	}
	return out
}

func (w *world) events(game string) []core.HealthEventType {
	var out []core.HealthEventType
	for _, e := range w.health.EventsOf(game) {
		out = append(out, e.Type)
	}
	return out
}
