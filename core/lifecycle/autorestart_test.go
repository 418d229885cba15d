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

// restartWorld is a world whose backoff is 1 s doubling to 4 s, with the
// memory telemetry to count restarts.
func restartWorld(t *testing.T, tweak ...func(*lifecycle.Deps)) (*world, *memory.Telemetry) {
	t.Helper()
	tel := memory.NewTelemetry()
	w := newWorld(t, append([]func(*lifecycle.Deps){func(d *lifecycle.Deps) {
		d.Telemetry = tel
		d.Config.Restart.Backoff = core.Backoff{Base: time.Second, Max: 4 * time.Second, ResetAfter: time.Minute}
	}}, tweak...)...)
	return w, tel
}

func (w *world) startWith(game, policy string) {
	w.t.Helper()
	w.startImage(game, imgA, nil, policy)
}

// crash makes the game's engine exit with code and lets the monitor settle
// the exit event.
func (w *world) crash(game string, code int) core.Record {
	w.t.Helper()
	rec := w.expectStatus(game, core.StatusRunning)
	if err := w.drv.Exit(rec.ContainerID, code); err != nil {
		w.t.Fatal(err)
	}
	w.svc.NewMonitor(1).HandleEvent(w.ctx, ports.Event{Type: ports.EventExited, ContainerID: rec.ContainerID,
		Labels: lifecycle.Labels(game, rec.Generation, rec.ImageRef), ExitCode: code})
	return w.expectStatus(game, core.StatusStopped)
}

// removeBehind removes the container of rec behind rtmanager's back and
// lets the monitor settle the removal event.
func (w *world) removeBehind(rec core.Record) {
	w.t.Helper()
	if err := w.drv.Vanish(rec.ContainerID); err != nil {
		w.t.Fatal(err)
	}
	w.svc.NewMonitor(1).HandleEvent(w.ctx, ports.Event{Type: ports.EventRemoved, ContainerID: rec.ContainerID,
		Labels: lifecycle.Labels(rec.GameID, rec.Generation, rec.ImageRef)})
}

// startImage starts game on image with env and policy.
func (w *world) startImage(game, image string, env map[string]string, policy string) {
	w.t.Helper()
	w.expectOK(must(w.t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: game, ImageRef: image, Env: env,
		RestartPolicy: []byte(policy), Meta: rest()})), "")
}

// restartWhenDue moves the clock to rec's pending restart and makes it.
func (w *world) restartWhenDue(rec core.Record) lifecycle.Result {
	w.t.Helper()
	w.clock.Set(*rec.NextRestartAt)
	return must(w.t)(w.svc.NewAutoRestarter().RestartDue(w.ctx, rec.GameID))
}

func (w *world) lastEvent(game string) core.HealthEvent {
	w.t.Helper()
	evs := w.health.EventsOf(game)
	if len(evs) == 0 {
		w.t.Fatalf("no events of %s", game)
	}
	return evs[len(evs)-1]
}

func TestAutoRestartAfterCrash(t *testing.T) {
	w, tel := restartWorld(t)
	ar := w.svc.NewAutoRestarter()
	w.startWith("g", `{"mode":"on_failure","max_restarts":3,"window":"10m"}`)
	first := w.expectStatus("g", core.StatusRunning)

	stopped := w.crash("g", 3)
	ev := w.lastEvent("g")
	if ev.Type != core.EventContainerExited || ev.Details["classification"] != core.ExitCrash || ev.Details["exit_code"] != 3 ||
		ev.Details["oom_killed"] != false || ev.Details["backoff_ms"] != int64(1000) {
		t.Fatalf("exit event = %+v", ev)
	}
	if stopped.NextRestartAt == nil || !stopped.NextRestartAt.Equal(w.clock.Now().Add(time.Second)) {
		t.Fatalf("pending restart = %v", stopped.NextRestartAt)
	}
	n := len(w.ops("g"))
	// Not due yet: nothing happens and nothing is recorded.
	w.clock.Advance(999 * time.Millisecond)
	if res := must(t)(ar.RestartDue(w.ctx, "g")); res.ErrorCode != core.CodeReplayNoOp {
		t.Fatalf("early RestartDue = %+v", res)
	}
	w.expectStatus("g", core.StatusStopped)
	if len(w.ops("g")) != n {
		t.Fatalf("an early look wrote audit entries: %+v", w.ops("g")[n:])
	}
	w.clock.Advance(time.Millisecond)
	w.expectOK(must(t)(ar.RestartDue(w.ctx, "g")), "")
	now := w.expectStatus("g", core.StatusRunning)
	if now.Generation != first.Generation+1 || now.ContainerID == first.ContainerID || now.RestartCount != 1 ||
		now.NextRestartAt != nil || now.RestartPolicy.Mode != core.RestartOnFailure {
		t.Fatalf("restarted record = %+v", now)
	}
	ops := w.ops("g")[n:]
	if len(ops) != 2 || ops[1].OpKind != core.OpRestart || ops[1].OpSource != core.SourceMonitor ||
		ops[0].OpKind != core.OpStart || ops[0].OpSource != core.SourceMonitor || ops[0].CorrelationID != ops[1].CorrelationID {
		t.Fatalf("audit of the restart = %+v", ops)
	}
	ev = w.lastEvent("g")
	if ev.Type != core.EventContainerRestarted || ev.Details["attempt"] != 1 || ev.Details["exit_code"] != 3 ||
		ev.Details["classification"] != core.ExitCrash || ev.Details["backoff_ms"] != int64(1000) {
		t.Fatalf("restart event = %+v", ev)
	}
	if tel.Restarts(core.ExitCrash) != 1 {
		t.Errorf("restarts_total{crash} = %d", tel.Restarts(core.ExitCrash))
	}
	// A second look finds nothing to do: a restart happens once.
	if res := must(t)(ar.RestartDue(w.ctx, "g")); res.ErrorCode != core.CodeReplayNoOp {
		t.Fatalf("second RestartDue = %+v", res)
	}
	// The second crash waits twice as long.
	if again := w.crash("g", 1); !again.NextRestartAt.Equal(w.clock.Now().Add(2 * time.Second)) {
		t.Fatalf("second backoff: restart at %v, now %v", again.NextRestartAt, w.clock.Now())
	}
}

func TestAutoRestartPolicyByExit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  string
		code    int
		oom     bool
		class   core.ExitClass
		restart bool
	}{
		{"clean exit under on_failure stays stopped", `{"mode":"on_failure"}`, 0, false, core.ExitClean, false},
		{"clean exit under always restarts", `{"mode":"always"}`, 0, false, core.ExitClean, true},
		{"a foreign SIGKILL is killed, not oom", `{"mode":"on_failure"}`, 137, false, core.ExitKilled, true},
		{"the runtime's OOM flag is oom", `{"mode":"on_failure"}`, 137, true, core.ExitOOM, true},
		{"never", `{"mode":"never"}`, 1, false, core.ExitCrash, false},
		{"the default policy is never", ``, 1, false, core.ExitCrash, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := restartWorld(t)
			w.startWith("g", tc.policy)
			rec := w.expectStatus("g", core.StatusRunning)
			if tc.oom {
				if err := w.drv.OOM(rec.ContainerID); err != nil {
					t.Fatal(err)
				}
			} else if err := w.drv.Exit(rec.ContainerID, tc.code); err != nil {
				t.Fatal(err)
			}
			// The reconciler is the fallback when the event was missed.
			if rep := w.reconcile(); rep.Exited != 1 {
				t.Fatalf("report = %+v", rep)
			}
			got := w.expectStatus("g", core.StatusStopped)
			ev := w.lastEvent("g")
			if ev.Details["classification"] != tc.class || ev.Details["oom_killed"] != tc.oom {
				t.Fatalf("exit event = %+v", ev)
			}
			if (got.NextRestartAt != nil) != tc.restart {
				t.Fatalf("pending restart = %v, want %v", got.NextRestartAt, tc.restart)
			}
		})
	}
}

func TestAutoRestartCancelledByOperations(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(w *world)
		want core.Status
	}{
		{"stop", func(w *world) { w.expectOK(w.stop("g"), "") }, core.StatusStopped},
		{"cleanup", func(w *world) { w.expectOK(w.cleanup("g"), "") }, core.StatusRemoved},
		{"restart", func(w *world) { w.expectOK(w.restart("g"), "") }, core.StatusRunning},
		{"patch", func(w *world) { w.expectOK(w.patch("g", imgB), "") }, core.StatusRunning},
		{"start", func(w *world) { w.expectOK(w.start("g", imgA), "") }, core.StatusRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, tel := restartWorld(t)
			w.startWith("g", `{"mode":"always"}`)
			w.crash("g", 1)
			tc.op(w)
			rec := w.expectStatus("g", tc.want)
			if rec.NextRestartAt != nil || rec.RestartCount != 0 {
				t.Fatalf("after %s: %+v", tc.name, rec)
			}
			w.clock.Advance(time.Hour)
			gen := rec.Generation
			if res := must(t)(w.svc.NewAutoRestarter().RestartDue(w.ctx, "g")); res.ErrorCode != core.CodeReplayNoOp {
				t.Fatalf("RestartDue after %s = %+v", tc.name, res)
			}
			if rec := w.expectStatus("g", tc.want); rec.Generation != gen || tel.Restarts(core.ExitCrash) != 0 {
				t.Fatalf("restarted after %s: %+v", tc.name, rec)
			}
		})
	}
}

func TestAutoRestartCrashLoop(t *testing.T) {
	w, tel := restartWorld(t)
	w.startWith("g", `{"mode":"on_failure","max_restarts":2,"window":"1m"}`)
	for i := range 2 {
		w.clock.Advance(time.Second)
		rec := w.crash("g", 1)
		w.expectOK(w.restartWhenDue(rec), "")
		if rec := w.expectStatus("g", core.StatusRunning); rec.RestartCount != i+1 {
			t.Fatalf("restart %d: count %d", i+1, rec.RestartCount)
		}
	}
	w.clock.Advance(time.Second)
	rec := w.crash("g", 1)
	if rec.NextRestartAt != nil {
		t.Fatalf("a third restart within the window was scheduled: %+v", rec)
	}
	ev := w.lastEvent("g")
	if ev.Type != core.EventCrashLoop || ev.Details["restarts"] != 2 || ev.Details["window"] != "1m0s" {
		t.Fatalf("last event = %+v", ev)
	}
	if e := w.lastOp("g"); e.OpKind != core.OpStop || e.OpSource != core.SourceMonitor || e.SourceRef != string(core.ReasonCrashLoop) {
		t.Fatalf("audit of the crash loop = %+v", e)
	}
	if tel.CrashLoops() != 1 || tel.Restarts(core.ExitCrash) != 2 {
		t.Fatalf("crash loops %d, restarts %d", tel.CrashLoops(), tel.Restarts(core.ExitCrash))
	}
	// A start resets the streak and the count.
	w.expectOK(w.start("g", imgA), "")
	if rec := w.expectStatus("g", core.StatusRunning); rec.RestartCount != 0 || rec.Crash.Streak != 0 || len(rec.Crash.History) != 0 {
		t.Fatalf("after a start: %+v", rec)
	}
}

func TestAutoRestartInvalidPolicy(t *testing.T) {
	w, _ := restartWorld(t)
	res := must(t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA,
		RestartPolicy: []byte(`{"mode":"sometimes"}`), Meta: rest()}))
	w.expectFail(res, core.CodeInvalidRequest)
	w.expectStatus("g", "")
}

func TestAutoRestartBusyLease(t *testing.T) {
	w, _ := restartWorld(t)
	w.startWith("g", `{"mode":"always"}`)
	rec := w.crash("g", 1)
	w.clock.Set(*rec.NextRestartAt)
	if ok, err := w.leases.TryAcquire(w.ctx, "g", "other", time.Minute); err != nil || !ok {
		t.Fatalf("take lease: %v %v", ok, err)
	}
	n := len(w.ops("g"))
	res := must(t)(w.svc.NewAutoRestarter().RestartDue(w.ctx, "g"))
	if !res.Busy || len(w.ops("g")) != n {
		t.Fatalf("RestartDue under a held lease = %+v, ops %+v", res, w.ops("g")[n:])
	}
	w.expectStatus("g", core.StatusStopped)
}

func TestAutoRestartStartFailsCountsAsCrash(t *testing.T) {
	w, tel := restartWorld(t)
	const img = "engine:turns-bad"
	w.drv.AddImage(img, fakedriver.Behavior{})
	w.startImage("g", img, map[string]string{"TOKEN": "t"}, `{"mode":"on_failure","max_restarts":2}`)
	// From now on the engine dies during start-up.
	w.drv.AddImage(img, fakedriver.Behavior{ExitOnStart: true, ExitCode: 3})
	rec := w.crash("g", 1)
	w.expectFail(w.restartWhenDue(rec), core.CodeStartFailed)
	rec = w.expectStatus("g", core.StatusStopped)
	if rec.NextRestartAt == nil || !rec.NextRestartAt.Equal(w.clock.Now().Add(2*time.Second)) || rec.RestartCount != 1 ||
		len(w.all("g")) != 0 || rec.Env["TOKEN"] != "t" {
		t.Fatalf("after a failed restart: %+v, containers %+v", rec, w.all("g"))
	}
	w.expectFail(w.restartWhenDue(rec), core.CodeStartFailed)
	rec = w.expectStatus("g", core.StatusStopped)
	if rec.NextRestartAt != nil || rec.RestartCount != 2 || w.lastEvent("g").Type != core.EventCrashLoop || tel.CrashLoops() != 1 {
		t.Fatalf("after the second failed restart: %+v, last event %+v", rec, w.lastEvent("g"))
	}
	// The game can be started again, on a good image.
	w.expectOK(w.start("g", imgA), "")
}

func TestAutoRestartVanishedContainer(t *testing.T) {
	w, tel := restartWorld(t)
	w.startWith("g", `{"mode":"on_failure"}`)
	first := w.expectStatus("g", core.StatusRunning)
	// Removed behind rtmanager's back (docker rm -f, a drained node): the
	// monitor hears it, and the policy brings the game back.
	w.removeBehind(first)
	rec := w.expectStatus("g", core.StatusStopped)
	ev := w.lastEvent("g")
	if rec.ContainerID != "" || rec.NextRestartAt == nil || ev.Type != core.EventContainerDisappeared ||
		ev.Details["classification"] != core.ExitKilled {
		t.Fatalf("after the container vanished: %+v, event %+v", rec, ev)
	}
	w.expectOK(w.restartWhenDue(rec), "")
	if now := w.expectStatus("g", core.StatusRunning); now.Generation != first.Generation+1 || len(w.live("g")) != 1 ||
		tel.Restarts(core.ExitKilled) != 1 {
		t.Fatalf("after the restart: %+v, containers %+v", now, w.all("g"))
	}
}

func TestAutoRestartSurvivesRemovalAfterExit(t *testing.T) {
	w, _ := restartWorld(t)
	w.startWith("g", `{"mode":"on_failure"}`)
	first := w.expectStatus("g", core.StatusRunning)
	// docker rm -f: the exit is settled first, then the removal arrives.
	rec := w.crash("g", 137)
	w.removeBehind(first)
	gone := w.expectStatus("g", core.StatusStopped)
	if gone.ContainerID != "" || gone.NextRestartAt == nil || !gone.NextRestartAt.Equal(*rec.NextRestartAt) {
		t.Fatalf("after the removal: %+v", gone)
	}
	w.expectOK(w.restartWhenDue(gone), "")
	w.expectStatus("g", core.StatusRunning)
}

func TestAutoRestartImageGoneCountsAsAttempt(t *testing.T) {
	w, _ := restartWorld(t)
	const img = "engine:deleted-later"
	w.drv.AddImage(img, fakedriver.Behavior{})
	w.startImage("g", img, nil, `{"mode":"on_failure","max_restarts":1}`)
	rec := w.crash("g", 1)
	w.drv.RemoveImage(img)
	w.expectFail(w.restartWhenDue(rec), core.CodeImageUnavailable)
	rec = w.expectStatus("g", core.StatusStopped)
	if rec.RestartCount != 1 || rec.NextRestartAt != nil || w.lastEvent("g").Type != core.EventCrashLoop {
		t.Fatalf("after a restart without its image: %+v, last event %+v", rec, w.lastEvent("g"))
	}
}

// TestAutoRestartScheduleFromRecords: an instance that did not see the exit
// (a restarted rtmanager, another instance) learns the pending restart from
// a reconcile pass and makes it when due.
func TestAutoRestartScheduleFromRecords(t *testing.T) {
	w, _ := restartWorld(t)
	w.startWith("g", `{"mode":"on_failure"}`)
	first := w.expectStatus("g", core.StatusRunning)
	pending := w.crash("g", 1)
	other, err := lifecycle.New(w.deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { defer close(done); other.NewAutoRestarter().Run(ctx) }()
	defer func() { cancel(); <-done }()
	w.clock.Set(*pending.NextRestartAt)
	if _, err := other.NewReconciler(time.Minute).Pass(w.ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, _ := w.record("g")
		if rec.Status == core.StatusRunning && rec.Generation == first.Generation+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second instance did not restart the game: %+v", rec)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

func TestAutoRestartWaitsForCapacity(t *testing.T) {
	w, _ := restartWorld(t, func(d *lifecycle.Deps) { d.Config.MaxRuntimes = 1 })
	w.startWith("g", `{"mode":"on_failure","max_restarts":1}`)
	rec := w.crash("g", 1)
	w.expectOK(w.start("other", imgA), "")
	n := len(w.ops("g"))
	for range 3 { // more than max_restarts: waiting is no failed attempt
		if res := w.restartWhenDue(rec); !res.Busy || res.ErrorCode != core.CodeCapacityExceeded {
			t.Fatalf("restart at capacity = %+v", res)
		}
	}
	if now := w.expectStatus("g", core.StatusStopped); now.NextRestartAt == nil || now.RestartCount != 0 || len(w.ops("g")) != n {
		t.Fatalf("at capacity: %+v, audit %+v", now, w.ops("g")[n:])
	}
	w.expectOK(w.stop("other"), "")
	w.expectOK(w.restartWhenDue(rec), "")
	w.expectStatus("g", core.StatusRunning)
}
