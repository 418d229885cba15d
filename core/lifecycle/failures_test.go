package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

var errDown = fmt.Errorf("injected: %w", ports.ErrUnavailable)

// every runs f once per lifecycle operation on game g seeded running.
var allOps = map[string]func(w *world, g string) lifecycle.Result{
	"start":   func(w *world, g string) lifecycle.Result { return w.start(g, imgA) },
	"stop":    func(w *world, g string) lifecycle.Result { return w.stop(g) },
	"restart": func(w *world, g string) lifecycle.Result { return w.restart(g) },
	"patch":   func(w *world, g string) lifecycle.Result { return w.patch(g, imgB) },
	"cleanup": func(w *world, g string) lifecycle.Result { return w.cleanup(g) },
}

func TestLeaseBusy(t *testing.T) {
	for name, op := range allOps {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusStopped)
			if ok, _ := w.leases.TryAcquire(w.ctx, "g", "someone-else", time.Minute); !ok {
				t.Fatal("could not take the lease")
			}
			r := op(w, "g")
			w.expectFail(r, core.CodeConflict)
			if !r.Busy {
				t.Error("a held lease must set Result.Busy")
			}
			w.expectStatus("g", core.StatusStopped)
			if holder, _ := w.leases.Holder("g"); holder != "someone-else" {
				t.Errorf("the other holder lost its lease: %q", holder)
			}
		})
	}
}

func TestLeaseStoreDown(t *testing.T) {
	for name, op := range allOps {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusRunning)
			w.leases.SetDown(true)
			r := op(w, "g")
			w.expectFail(r, core.CodeServiceUnavailable)
			if r.Busy {
				t.Error("an unreachable lease store is not Busy")
			}
			w.expectStatus("g", core.StatusRunning)
		})
	}
}

func TestLeaseReleasedAfterEveryOutcome(t *testing.T) {
	for name, op := range allOps {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusRunning)
			op(w, "g")
			if holder, held := w.leases.Holder("g"); held {
				t.Errorf("lease still held by %q after %s", holder, name)
			}
		})
	}
}

func TestStoreDown(t *testing.T) {
	for name, op := range allOps {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusRunning)
			w.store.FailNext(memory.MethodGet, errDown)
			w.expectFail(op(w, "g"), core.CodeServiceUnavailable)
			w.expectStatus("g", core.StatusRunning)
			if n := len(w.live("g")); n != 1 {
				t.Errorf("%d live containers, want 1", n)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	w := newWorld(t, func(d *lifecycle.Deps) { d.Config.Allow = core.MustParseImageAllow("engine:*") })
	cases := []struct {
		name string
		run  func() (lifecycle.Result, error)
		code core.Code
	}{
		{"start bad game", func() (lifecycle.Result, error) {
			return w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "Bad!", ImageRef: imgA, Meta: rest()})
		}, core.CodeInvalidRequest},
		{"start empty image", func() (lifecycle.Result, error) {
			return w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", Meta: rest()})
		}, core.CodeInvalidRequest},
		{"start reserved env", func() (lifecycle.Result, error) {
			return w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA, Env: map[string]string{"PORT": "1"}, Meta: rest()})
		}, core.CodeInvalidRequest},
		{"start forbidden image", func() (lifecycle.Result, error) {
			return w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: "evil:1", Meta: rest()})
		}, core.CodeForbidden},
		{"patch forbidden image", func() (lifecycle.Result, error) {
			return w.svc.Patch.Handle(w.ctx, lifecycle.PatchInput{GameID: "g", ImageRef: "evil:1", Meta: rest()})
		}, core.CodeForbidden},
		{"stop unknown reason", func() (lifecycle.Result, error) {
			return w.svc.Stop.Handle(w.ctx, lifecycle.StopInput{GameID: "g", Reason: "bored", Meta: rest()})
		}, core.CodeInvalidRequest},
		{"cleanup bad game", func() (lifecycle.Result, error) {
			return w.svc.Cleanup.Handle(w.ctx, lifecycle.CleanupInput{GameID: "", Meta: rest()})
		}, core.CodeInvalidRequest},
		{"restart bad game", func() (lifecycle.Result, error) {
			return w.svc.Restart.Handle(w.ctx, lifecycle.RestartInput{GameID: "-x", Meta: rest()})
		}, core.CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.expectFail(must(t)(c.run()), c.code)
		})
	}
	if n := w.drv.Calls(fakedriver.MethodStart) + w.drv.Calls(fakedriver.MethodPrepareImage); n != 0 {
		t.Errorf("invalid input reached the driver %d times", n)
	}
	if _, held := w.leases.Holder("g"); held {
		t.Error("invalid input left a lease")
	}
	if _, err := w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA}); err == nil {
		t.Error("an unknown op source is a programmer error")
	}
	//lint:ignore SA1012 a nil context is the programmer error under test
	if _, err := w.svc.Stop.Handle(nil, lifecycle.StopInput{GameID: "g", Reason: core.ReasonShutdown, Meta: rest()}); err == nil { //nolint:staticcheck
		t.Error("a nil context is a programmer error")
	}
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name   string
		image  string
		inject func(w *world)
		code   core.Code
		// record: status after the failure ("" = no record)
		record core.Status
	}{
		{"image missing", imgGone, nil, core.CodeImageUnavailable, ""},
		{"dies during start-up", imgDies, nil, core.CodeStartFailed, core.StatusRemoved},
		{"never ready", imgDead, nil, core.CodeStartFailed, core.StatusRemoved},
		{"driver cannot start", imgA, func(w *world) { w.drv.FailNext(fakedriver.MethodStart, errors.New("no space left")) },
			core.CodeStartFailed, core.StatusRemoved},
		{"driver down", imgA, func(w *world) { w.drv.FailNext(fakedriver.MethodStart, errDown) },
			core.CodeServiceUnavailable, core.StatusRemoved},
		{"inspect fails while waiting", imgDead, func(w *world) { w.drv.FailNext(fakedriver.MethodInspect, errors.New("boom")) },
			core.CodeStartFailed, core.StatusRemoved},
		{"record write fails", imgA, func(w *world) { w.store.FailNext(memory.MethodCreate, errDown) },
			core.CodeServiceUnavailable, ""},
		{"final swap fails", imgA, func(w *world) { w.store.FailNth(memory.MethodSwap, 1, errDown) },
			core.CodeServiceUnavailable, core.StatusRemoved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.inject != nil {
				tt.inject(w)
			}
			w.expectFail(w.start("g", tt.image), tt.code)
			w.expectStatus("g", tt.record)
			if cs := w.all("g"); len(cs) != 0 {
				t.Errorf("a failed start left containers: %+v", cs)
			}
			ops := w.ops("g")
			if tt.record != "" || len(ops) > 0 {
				if len(ops) != 1 || ops[0].Outcome != core.OutcomeFailure || ops[0].ErrorCode != tt.code {
					t.Errorf("audit = %+v, want one %s failure", ops, tt.code)
				}
			}
		})
	}
}

func TestStartFromStoppedReplacesContainer(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusStopped)
	old := w.all("g")
	w.expectOK(w.start("g", imgB), "")
	now := w.all("g")
	if len(old) != 1 || len(now) != 1 || now[0].ID == old[0].ID {
		t.Fatalf("containers before %+v, after %+v: want exactly one new container", old, now)
	}
	rec := w.expectStatus("g", core.StatusRunning)
	if rec.Generation != 2 || rec.ImageRef != imgB || now[0].Name != "rtm-g-2" {
		t.Errorf("record %+v, container %s", rec, now[0].Name)
	}
	if got := now[0].Labels; got[ports.LabelGeneration] != "2" || got[ports.LabelImageRef] != imgB || got[ports.LabelManaged] != "true" {
		t.Errorf("labels = %v", got)
	}
}

func TestStartPassesEnv(t *testing.T) {
	w := newWorld(t)
	r := must(t)(w.svc.Start.Handle(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA,
		Env: map[string]string{"MODE": "ranked"}, Meta: rest()}))
	w.expectOK(r, "")
	spec, ok := w.drv.Spec(r.Record.ContainerID)
	if !ok || spec.Env["MODE"] != "ranked" || spec.Env["GAME_ID"] != "g" || spec.Port != lifecycle.DefaultEnginePort || spec.HostIP != "127.0.0.1" {
		t.Fatalf("spec = %+v", spec)
	}
	w.expectOK(w.restart("g"), "")
	rec := w.expectStatus("g", core.StatusRunning)
	spec, _ = w.drv.Spec(rec.ContainerID)
	if spec.Env["MODE"] != "ranked" {
		t.Errorf("restart lost the job env: %v", spec.Env)
	}
}

func TestStopFailures(t *testing.T) {
	t.Run("vanished container", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		rec, _ := w.record("g")
		if err := w.drv.Vanish(rec.ContainerID); err != nil {
			t.Fatal(err)
		}
		w.expectOK(w.stop("g"), "")
		w.expectStatus("g", core.StatusRemoved)
		if got := w.events("g"); len(got) != 2 || got[1] != core.EventContainerDisappeared {
			t.Errorf("events = %v, want container_started then container_disappeared", got)
		}
	})
	t.Run("driver error", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		w.drv.FailNext(fakedriver.MethodStop, errors.New("daemon hiccup"))
		w.expectFail(w.stop("g"), core.CodeServiceUnavailable)
		w.expectStatus("g", core.StatusRunning)
	})
	t.Run("CAS lost to another stop is a replay", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		w.raceNextSwapTo("g", w.stoppedBy)
		w.expectOK(w.stop("g"), core.CodeReplayNoOp)
		w.expectStatus("g", core.StatusStopped)
	})
	t.Run("CAS lost to a new container is a conflict", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		w.raceNextSwapTo("g", w.newContainer)
		w.expectFail(w.stop("g"), core.CodeConflict)
	})
	t.Run("record write fails", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		w.store.FailNext(memory.MethodSwap, errDown)
		w.expectFail(w.stop("g"), core.CodeServiceUnavailable)
	})
	t.Run("audit append failing does not change the outcome", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		before := len(w.ops("g"))
		w.store.FailAlways(memory.MethodAppendOperation, errDown)
		w.expectOK(w.stop("g"), "")
		w.expectStatus("g", core.StatusStopped)
		if len(w.ops("g")) != before {
			t.Error("an entry was appended although appends fail")
		}
	})
	// The stream append and the snapshot upsert are independent halves of
	// core's publish: either failing leaves the other, and the outcome.
	for _, tc := range []struct {
		name  string
		fail  func(w *world)
		check func(t *testing.T, w *world)
	}{
		{"health publish failing does not change the outcome",
			func(w *world) { w.health.FailAlways(memory.MethodPublish, errDown) },
			func(t *testing.T, w *world) {
				snap, err := w.store.GetSnapshot(w.ctx, "g")
				if err != nil || snap.LastEventType != core.EventContainerDisappeared {
					t.Errorf("snapshot after a failed publish = %+v, %v; want container_disappeared", snap, err)
				}
			}},
		{"snapshot upsert failing still publishes the event",
			func(w *world) { w.store.FailAlways(memory.MethodUpsertSnapshot, errDown) },
			func(t *testing.T, w *world) {
				if evs := w.events("g"); len(evs) == 0 || evs[len(evs)-1] != core.EventContainerDisappeared {
					t.Errorf("events after a failed upsert = %v; want container_disappeared", evs)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusRunning)
			rec, _ := w.record("g")
			_ = w.drv.Vanish(rec.ContainerID)
			tc.fail(w)
			w.expectOK(w.stop("g"), "")
			w.expectStatus("g", core.StatusRemoved)
			tc.check(t, w)
		})
	}
}

func TestCleanupFailures(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusStopped)
	w.drv.FailNext(fakedriver.MethodRemove, errDown)
	w.expectFail(w.cleanup("g"), core.CodeServiceUnavailable)
	w.expectStatus("g", core.StatusStopped)
	w.expectOK(w.cleanup("g"), "")
	if cs := w.all("g"); len(cs) != 0 {
		t.Errorf("cleanup left %+v", cs)
	}
	// The container vanished before cleanup: removal is idempotent.
	w2 := newWorld(t)
	w2.seed("g", core.StatusStopped)
	rec, _ := w2.record("g")
	_ = w2.drv.Vanish(rec.ContainerID)
	w2.expectOK(w2.cleanup("g"), "")
	w2.expectStatus("g", core.StatusRemoved)
}

func TestRestartCorrelation(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	before := len(w.ops("g"))
	r := w.restart("g")
	w.expectOK(r, "")
	ops := w.ops("g")[before:]
	kinds := []core.OpKind{}
	for _, e := range ops {
		kinds = append(kinds, e.OpKind)
		if e.CorrelationID != r.CorrelationID || e.OpSource != core.SourceREST || e.SourceRef != "req-1" {
			t.Errorf("entry %+v does not share correlation %s / source", e, r.CorrelationID)
		}
	}
	if fmt.Sprint(kinds) != "[stop start restart]" {
		t.Errorf("entries = %v, want [stop start restart]", kinds)
	}
	if r.Record.Generation != 2 || len(w.live("g")) != 1 {
		t.Errorf("record %+v, live %d", r.Record, len(w.live("g")))
	}
}

func TestRestartFailures(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	w.drv.FailNext(fakedriver.MethodStop, errDown)
	w.expectFail(w.restart("g"), core.CodeServiceUnavailable)
	w.expectStatus("g", core.StatusRunning)
	w.drv.FailNext(fakedriver.MethodStart, errors.New("cannot"))
	w.expectFail(w.restart("g"), core.CodeStartFailed)
	w.expectStatus("g", core.StatusRemoved)
}

func TestPatch(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		r := w.patch("g", imgB)
		w.expectOK(r, "")
		if r.Record.ImageRef != imgB || len(w.live("g")) != 1 {
			t.Errorf("record %+v", r.Record)
		}
		kinds := []core.OpKind{}
		for _, e := range w.ops("g")[1:] {
			kinds = append(kinds, e.OpKind)
			if e.CorrelationID != r.CorrelationID {
				t.Errorf("entry %+v not correlated", e)
			}
		}
		if fmt.Sprint(kinds) != "[stop start patch]" {
			t.Errorf("entries = %v", kinds)
		}
	})
	t.Run("missing image costs no downtime", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		before, _ := w.record("g")
		w.expectFail(w.patch("g", imgGone), core.CodeImageUnavailable)
		after := w.expectStatus("g", core.StatusRunning)
		if after.ContainerID != before.ContainerID || w.drv.Calls(fakedriver.MethodStop) != 0 {
			t.Errorf("the engine was touched: %+v → %+v", before, after)
		}
	})
	for _, bad := range []string{imgDies, imgDead} {
		t.Run("rollback from "+bad, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusRunning)
			r := w.patch("g", bad)
			w.expectFail(r, core.CodeStartFailed)
			rec := w.expectStatus("g", core.StatusRunning)
			if rec.ImageRef != imgA || len(w.live("g")) != 1 || len(w.all("g")) != 1 {
				t.Errorf("after rollback: record %+v, containers %+v", rec, w.all("g"))
			}
			var kinds []core.OpKind
			for _, e := range w.ops("g")[1:] {
				kinds = append(kinds, e.OpKind)
			}
			if fmt.Sprint(kinds) != "[stop start start patch]" {
				t.Errorf("entries = %v", kinds)
			}
		})
	}
	t.Run("rollback fails too", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusRunning)
		w.drv.AddImage(imgA, fakedriver.Behavior{ExitOnStart: true}) // the old image broke meanwhile
		w.expectFail(w.patch("g", imgDies), core.CodeStartFailed)
		w.expectStatus("g", core.StatusRemoved)
		if cs := w.all("g"); len(cs) != 0 {
			t.Errorf("containers left: %+v", cs)
		}
	})
	t.Run("stopped game is not rolled back", func(t *testing.T) {
		w := newWorld(t)
		w.seed("g", core.StatusStopped)
		w.expectFail(w.patch("g", imgDies), core.CodeStartFailed)
		w.expectStatus("g", core.StatusRemoved)
	})
}

// TestLeaseLostCancelsOperation: when another holder takes the lease while
// a start waits for readiness, the start stops, removes its container and
// reports a conflict.
func TestLeaseLostCancelsOperation(t *testing.T) {
	w := newWorld(t, func(d *lifecycle.Deps) {
		d.Config.LeaseTTL = 30 * time.Millisecond
		d.Config.StartTimeout = 10 * time.Second
	})
	done := make(chan lifecycle.Result, 1)
	go func() { done <- w.start("g", imgDead) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, held := w.leases.Holder("g"); held && len(w.all("g")) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("start never took the lease and created its container")
		}
		time.Sleep(time.Millisecond)
	}
	w.clock.Advance(time.Hour) // the lease expires...
	if ok, err := w.leases.TryAcquire(context.Background(), "g", "thief", time.Hour); !ok || err != nil {
		t.Fatalf("thief could not take the expired lease: %v %v", ok, err)
	}
	select {
	case r := <-done:
		w.expectFail(r, core.CodeConflict)
	case <-time.After(5 * time.Second):
		t.Fatal("the start did not notice it lost its lease")
	}
	if cs := w.all("g"); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}
	if holder, _ := w.leases.Holder("g"); holder != "thief" {
		t.Errorf("the start released someone else's lease: holder %q", holder)
	}
}

func TestNewValidates(t *testing.T) {
	full := lifecycle.Deps{Records: memory.NewStore(), Operations: memory.NewStore(), Leases: memory.NewLeases(nil),
		Driver: fakedriver.New(nil), Health: memory.NewHealthRecorder(), Snapshots: memory.NewStore()}
	if _, err := lifecycle.New(full); err != nil {
		t.Fatalf("New(full) = %v", err)
	}
	for name, breakIt := range map[string]func(d *lifecycle.Deps){
		"records":    func(d *lifecycle.Deps) { d.Records = nil },
		"operations": func(d *lifecycle.Deps) { d.Operations = nil },
		"leases":     func(d *lifecycle.Deps) { d.Leases = nil },
		"driver":     func(d *lifecycle.Deps) { d.Driver = nil },
		"health":     func(d *lifecycle.Deps) { d.Health = nil },
		"snapshots":  func(d *lifecycle.Deps) { d.Snapshots = nil },
		"negative":   func(d *lifecycle.Deps) { d.Config.StopTimeout = -1 },
		"port":       func(d *lifecycle.Deps) { d.Config.EnginePort = 70000 },
	} {
		d := full
		breakIt(&d)
		if _, err := lifecycle.New(d); err == nil {
			t.Errorf("New without %s succeeded", name)
		}
	}
}
