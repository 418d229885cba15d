package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

func (w *world) reconcile() lifecycle.ReconcileReport {
	w.t.Helper()
	rep, err := w.svc.NewReconciler(time.Minute).Pass(w.ctx)
	if err != nil {
		w.t.Fatalf("reconcile pass: %v", err)
	}
	return rep
}

func (w *world) lastOp(game string) core.OperationEntry {
	ops := w.ops(game)
	if len(ops) == 0 {
		w.t.Fatalf("no operations for %s", game)
	}
	return ops[len(ops)-1]
}

func TestReconcileVanished(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	rec, _ := w.record("g")
	_ = w.drv.Vanish(rec.ContainerID)
	rep := w.reconcile()
	if rep.Disappeared != 1 || rep.Records != 1 {
		t.Errorf("report = %+v", rep)
	}
	w.expectStatus("g", core.StatusRemoved)
	if ev := w.events("g"); ev[len(ev)-1] != core.EventContainerDisappeared {
		t.Errorf("events = %v", ev)
	}
	if e := w.lastOp("g"); e.OpKind != core.OpReconcile || e.OpSource != core.SourceReconciler || e.Outcome != core.OutcomeSuccess {
		t.Errorf("audit = %+v", e)
	}
	n := len(w.ops("g"))
	if again := w.reconcile(); again.Disappeared != 0 {
		t.Errorf("second pass repaired again: %+v", again)
	}
	// Events about a settled game leave no trace either.
	w.svc.NewMonitor(1).HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: rec.ContainerID,
		Labels: lifecycle.Labels("g", rec.Generation, imgA)})
	if len(w.ops("g")) != n {
		t.Errorf("a pass with nothing to do wrote audit entries: %+v", w.ops("g")[n:])
	}
}

func TestReconcileExited(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	rec, _ := w.record("g")
	_ = w.drv.Exit(rec.ContainerID, 7)
	if rep := w.reconcile(); rep.Exited != 1 {
		t.Errorf("report = %+v", rep)
	}
	w.expectStatus("g", core.StatusStopped)
	evs := w.health.EventsOf("g")
	last := evs[len(evs)-1]
	if last.Type != core.EventContainerExited || last.Details["exit_code"] != 7 {
		t.Errorf("last event = %+v", last)
	}
}

func TestReconcileOrphans(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	// A labelled container of a game without record, and one of an old
	// generation of g.
	for _, spec := range []ports.ContainerSpec{
		{Name: "rtm-ghost-1", Image: imgA, Labels: lifecycle.Labels("ghost", 1, imgA)},
		{Name: "rtm-g-0", Image: imgA, Labels: lifecycle.Labels("g", 0, imgA)},
	} {
		if _, err := w.drv.Start(w.ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if rep := w.reconcile(); rep.Orphans != 0 {
		t.Fatalf("orphans removed inside the grace period: %+v", rep)
	}
	w.clock.Advance(2 * time.Minute)
	rep := w.reconcile()
	if rep.Orphans != 2 {
		t.Errorf("report = %+v", rep)
	}
	if len(w.all("ghost")) != 0 || len(w.all("g")) != 1 {
		t.Errorf("containers = %+v", w.drv.Containers())
	}
	w.expectStatus("g", core.StatusRunning)
	if ev := w.events("ghost"); len(ev) != 1 || ev[0] != core.EventOrphanRemoved {
		t.Errorf("ghost events = %v", ev)
	}
}

func TestReconcileMidStart(t *testing.T) {
	t.Run("adopts the container of the reserved generation", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusStarting)
		rec, _ := w.record("g")
		c, err := w.drv.Start(w.ctx, ports.ContainerSpec{Name: core.ContainerName(core.DefaultScope, "g", rec.Generation),
			Image: imgA, Labels: lifecycle.Labels("g", rec.Generation, imgA)})
		if err != nil {
			t.Fatal(err)
		}
		if rep := w.reconcile(); rep.Adopted != 1 || rep.Orphans != 0 {
			t.Errorf("report = %+v", rep)
		}
		got := w.expectStatus("g", core.StatusRunning)
		if got.ContainerID != c.ID || got.Endpoint != c.Endpoint {
			t.Errorf("adopted record = %+v", got)
		}
	})
	t.Run("abandons a reservation without container", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusStarting)
		if rep := w.reconcile(); rep.Abandoned != 1 {
			t.Errorf("report = %+v", rep)
		}
		w.expectStatus("g", core.StatusRemoved)
	})
	t.Run("leaves a start in progress alone", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusStarting)
		_, _ = w.leases.TryAcquire(w.ctx, "g", "a-live-start", time.Minute)
		if rep := w.reconcile(); rep.Skipped != 1 {
			t.Errorf("report = %+v", rep)
		}
		w.expectStatus("g", core.StatusStarting)
		if ops := w.ops("g"); len(ops) != 0 {
			t.Errorf("a skipped repair left audit entries: %+v", ops)
		}
	})
}

func TestReconcileCannotLook(t *testing.T) {
	w := newWorld(t)
	w.drv.SetDown(true)
	if _, err := w.svc.NewReconciler(0).Pass(w.ctx); err == nil {
		t.Error("a pass with the driver down must report it")
	}
	w.drv.SetDown(false)
	w.store.FailNext(memory.MethodListHeads, errDown)
	if _, err := w.svc.NewReconciler(0).Pass(w.ctx); err == nil {
		t.Error("a pass with the store down must report it")
	}
}

func TestJanitor(t *testing.T) {
	w := newWorld(t)
	w.seed("old", core.StatusStopped)
	w.clock.Advance(2 * time.Hour)
	w.seed("new", core.StatusStopped)
	w.seed("live", core.StatusRunning)
	cleaned, failed, err := w.svc.NewJanitor(time.Hour).Pass(w.ctx)
	if err != nil || cleaned != 1 || failed != 0 {
		t.Fatalf("janitor = %d cleaned, %d failed, %v", cleaned, failed, err)
	}
	w.expectStatus("old", core.StatusRemoved)
	w.expectStatus("new", core.StatusStopped)
	w.expectStatus("live", core.StatusRunning)
	if e := w.lastOp("old"); e.OpKind != core.OpCleanup || e.OpSource != core.SourceJanitor {
		t.Errorf("audit = %+v", e)
	}
	w.store.FailAlways("List", errDown)
	if _, _, err := w.svc.NewJanitor(time.Hour).Pass(w.ctx); err == nil {
		t.Error("janitor must report a store it cannot list")
	}
}

func TestMonitorEvents(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	rec, _ := w.record("g")
	m := w.svc.NewMonitor(3)
	labels := lifecycle.Labels("g", rec.Generation, imgA)
	// Events about other containers change nothing.
	m.HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: "someone-else", Labels: labels})
	m.HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: rec.ContainerID})
	w.expectStatus("g", core.StatusRunning)
	_ = w.drv.OOM(rec.ContainerID)
	m.HandleEvent(w.ctx, ports.Event{Type: ports.EventOOM, ContainerID: rec.ContainerID, Labels: labels})
	m.HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: rec.ContainerID, Labels: labels, ExitCode: 137})
	w.expectStatus("g", core.StatusStopped)
	ev := w.events("g")
	if len(ev) != 3 || ev[1] != core.EventContainerOOM || ev[2] != core.EventContainerExited {
		t.Errorf("events = %v", ev)
	}
}

func TestMonitorProbes(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	rec, _ := w.record("g")
	m := w.svc.NewMonitor(3)
	probe := func() {
		t.Helper()
		if err := m.ProbeAll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.drv.SetReady(rec.ContainerID, false)
	for range 5 {
		probe()
	}
	_ = w.drv.SetReady(rec.ContainerID, true)
	probe()
	probe()
	evs := w.health.EventsOf("g")
	var types []core.HealthEventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []core.HealthEventType{core.EventContainerStarted, core.EventHealthCheckFailed, core.EventHealthCheckRecovered}
	if len(types) != len(want) || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("events = %v, want %v", types, want)
	}
	if evs[1].Details["consecutive_failures"] != 3 || evs[1].Details["last_error"] == "" {
		t.Errorf("failed details = %v", evs[1].Details)
	}
	snap, err := w.store.GetSnapshot(w.ctx, "g")
	if err != nil || snap.LastEventType != core.EventHealthCheckRecovered || snap.ConsecutiveFailures != 0 {
		t.Errorf("snapshot = %+v, %v", snap, err)
	}
	w.drv.FailAlways(fakedriver.MethodProbe, errDown)
	w.store.FailNext("List", errDown)
	if err := m.ProbeAll(w.ctx); err == nil {
		t.Error("ProbeAll must report a store it cannot list")
	}
}

// TestReconcileScopes: an instance leaves containers of another deployment
// scope alone, and counts unscoped containers as the default scope.
func TestReconcileScopes(t *testing.T) {
	w := newWorld(t)
	other := lifecycle.Labels("theirs", 1, imgA)
	other[ports.LabelScope] = "staging"
	unscoped := lifecycle.Labels("legacy", 1, imgA)
	for name, labels := range map[string]map[string]string{"rtm-theirs-1": other, "rtm-legacy-1": unscoped} {
		if _, err := w.drv.Start(w.ctx, ports.ContainerSpec{Name: name, Image: imgA, Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	w.seed("g", core.StatusRunning)
	rec, _ := w.record("g")
	if c, _ := w.drv.Inspect(w.ctx, rec.ContainerID); c.Labels[ports.LabelScope] != ports.DefaultScope {
		t.Errorf("started container labels = %v", c.Labels)
	}
	w.clock.Advance(time.Hour)
	rep := w.reconcile()
	if rep.Orphans != 1 || len(w.all("legacy")) != 0 || len(w.all("theirs")) != 1 {
		t.Errorf("report %+v, containers %+v", rep, w.drv.Containers())
	}
}

// TestRemovedAfterExit: `docker rm -f` kills (exit event) and then removes
// the container; the record must end removed with container_disappeared,
// through the monitor and through a reconcile pass alike.
func TestRemovedAfterExit(t *testing.T) {
	for _, via := range []string{"events", "pass"} {
		t.Run(via, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusRunning)
			rec, _ := w.record("g")
			labels := lifecycle.Labels("g", rec.Generation, imgA)
			m := w.svc.NewMonitor(3)
			_ = w.drv.Exit(rec.ContainerID, 137)
			m.HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: rec.ContainerID, Labels: labels, ExitCode: 137})
			w.expectStatus("g", core.StatusStopped)
			_ = w.drv.Vanish(rec.ContainerID)
			if via == "events" {
				m.HandleEvent(w.ctx, ports.Event{Type: ports.EventRemoved, ContainerID: rec.ContainerID, Labels: labels})
			} else if rep := w.reconcile(); rep.Disappeared != 1 {
				t.Errorf("report = %+v", rep)
			}
			w.expectStatus("g", core.StatusRemoved)
			ev := w.events("g")
			if ev[len(ev)-1] != core.EventContainerDisappeared {
				t.Errorf("events = %v", ev)
			}
		})
	}
}

// staleHeads lists, before the starting heads of its store, a starting
// head of game that the store no longer has: the game moved on to a later
// status while a pass was listing.
type staleHeads struct {
	ports.RecordStore
	stale core.RecordHead
}

func (s staleHeads) ListHeads(ctx context.Context, q ports.ListQuery) ([]core.RecordHead, string, error) {
	page, next, err := s.RecordStore.ListHeads(ctx, q)
	if err == nil && q.Status == core.StatusStarting && q.After == "" {
		page = append([]core.RecordHead{s.stale}, page...)
	}
	return page, next, err
}

// TestReconcileLaterReadWins: a game read as starting and then as running
// (it moved while the pass listed) counts once, and the pass judges it by
// the later read: its running record's container vanished, so the pass
// repairs it (judged by the stale starting read, it would find the record
// changed and leave it).
func TestReconcileLaterReadWins(t *testing.T) {
	w := newWorld(t)
	w.seed("a", core.StatusRunning)
	w.seed("g", core.StatusRunning)
	w.seed("z", core.StatusStopped)
	rec, _ := w.record("g")
	deps := w.deps
	deps.Records = staleHeads{RecordStore: w.store,
		stale: core.RecordHead{GameID: "g", Status: core.StatusStarting, Generation: rec.Generation - 1}}
	svc, err := lifecycle.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.drv.Vanish(rec.ContainerID)
	rep, err := svc.NewReconciler(time.Minute).Pass(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || rep.Disappeared != 1 || rep.Skipped+rep.Failed+rep.Orphans != 0 {
		t.Errorf("report = %+v, want 3 records and g disappeared", rep)
	}
	w.expectStatus("g", core.StatusRemoved)
	w.expectStatus("a", core.StatusRunning)
}
