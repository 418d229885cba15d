package lifecycle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestRunUnderCallersLease: Run never touches the lease, so a caller that
// holds it can compose operations.
func TestRunUnderCallersLease(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	if ok, _ := w.leases.TryAcquire(w.ctx, "g", "caller", time.Minute); !ok {
		t.Fatal("no lease")
	}
	m := rest()
	w.expectOK(must(t)(w.svc.Restart.Run(w.ctx, lifecycle.RestartInput{GameID: "g", Meta: m})), "")
	w.expectOK(must(t)(w.svc.Patch.Run(w.ctx, lifecycle.PatchInput{GameID: "g", ImageRef: imgB, Meta: m})), "")
	w.expectOK(must(t)(w.svc.Stop.Run(w.ctx, lifecycle.StopInput{GameID: "g", Reason: core.ReasonShutdown, Meta: m})), "")
	w.expectOK(must(t)(w.svc.Cleanup.Run(w.ctx, lifecycle.CleanupInput{GameID: "g", Meta: m})), "")
	w.expectOK(must(t)(w.svc.Start.Run(w.ctx, lifecycle.StartInput{GameID: "g", ImageRef: imgA, Meta: m})), "")
	if holder, _ := w.leases.Holder("g"); holder != "caller" {
		t.Errorf("Run changed the lease: holder %q", holder)
	}
	w.expectFail(must(t)(w.svc.Patch.Run(w.ctx, lifecycle.PatchInput{GameID: "g", ImageRef: "", Meta: m})), core.CodeInvalidRequest)
	w.expectFail(must(t)(w.svc.Patch.Run(w.ctx, lifecycle.PatchInput{GameID: "G", ImageRef: imgA, Meta: m})), core.CodeInvalidRequest)
}

// TestRenewalFailureCancels: a lease store that stops answering for longer
// than the TTL ends the operation.
func TestRenewalFailureCancels(t *testing.T) {
	w := newWorld(t, func(d *lifecycle.Deps) {
		d.Config.LeaseTTL = 30 * time.Millisecond
		d.Config.StartTimeout = 10 * time.Second
	})
	done := make(chan lifecycle.Result, 1)
	go func() { done <- w.start("g", imgDead) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.all("g")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("start never created its container")
		}
		time.Sleep(time.Millisecond)
	}
	w.leases.SetDown(true)
	select {
	case r := <-done:
		w.expectFail(r, core.CodeServiceUnavailable)
	case <-time.After(5 * time.Second):
		t.Fatal("the start ignored a lease it could not renew")
	}
	w.leases.SetDown(false)
	if cs := w.all("g"); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}
}

func TestReconcileForgedOrphan(t *testing.T) {
	w := newWorld(t)
	labels := map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "NOT VALID", ports.LabelGeneration: "1"}
	if _, err := w.drv.Start(w.ctx, ports.ContainerSpec{Name: "forged", Image: imgA, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if rep := w.reconcile(); rep.Orphans != 0 {
		t.Fatalf("orphan removed inside grace: %+v", rep)
	}
	w.clock.Advance(time.Hour)
	if rep := w.reconcile(); rep.Orphans != 1 || len(w.drv.Containers()) != 0 {
		t.Errorf("report %+v, containers %+v", rep, w.drv.Containers())
	}
}

func TestReconcileRepairFails(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	rec, _ := w.record("g")
	_ = w.drv.Exit(rec.ContainerID, 1)
	w.drv.FailNext("Inspect", errors.New("daemon hiccup"))
	if rep := w.reconcile(); rep.Failed != 1 {
		t.Errorf("report = %+v", rep)
	}
	w.expectStatus("g", core.StatusRunning)
	if rep := w.reconcile(); rep.Exited != 1 {
		t.Errorf("retry report = %+v", rep)
	}
	w.expectStatus("g", core.StatusStopped)
}

// TestQuietBusy: a caller that retries a busy game asks for no audit entry
// of the busy attempts.
func TestQuietBusy(t *testing.T) {
	w := newWorld(t)
	w.seed("g", core.StatusRunning)
	_, _ = w.leases.TryAcquire(w.ctx, "g", "other", time.Minute)
	before := len(w.ops("g"))
	m := rest()
	m.QuietBusy = true
	r := must(t)(w.svc.Stop.Handle(w.ctx, lifecycle.StopInput{GameID: "g", Reason: core.ReasonShutdown, Meta: m}))
	if !r.Busy || len(w.ops("g")) != before {
		t.Errorf("busy quiet attempt: result %+v, %d new entries", r, len(w.ops("g"))-before)
	}
	m.QuietBusy = false
	w.expectFail(must(t)(w.svc.Stop.Handle(w.ctx, lifecycle.StopInput{GameID: "g", Reason: core.ReasonShutdown, Meta: m})), core.CodeConflict)
	if len(w.ops("g")) != before+1 {
		t.Errorf("the last attempt left %d entries, want 1", len(w.ops("g"))-before)
	}
}

// TestStopSettlesDeadStart: a stop that finds the reservation of a start
// that died removes the container that start left and ends removed.
func TestStopSettlesDeadStart(t *testing.T) {
	for _, op := range []string{"stop", "cleanup"} {
		t.Run(op, func(t *testing.T) {
			w := newWorld(t)
			w.seed("g", core.StatusStarting)
			rec, _ := w.record("g")
			if _, err := w.drv.Start(w.ctx, ports.ContainerSpec{Name: core.ContainerName(core.DefaultScope, "g", rec.Generation),
				Image: imgA, Labels: lifecycle.Labels("g", rec.Generation, imgA)}); err != nil {
				t.Fatal(err)
			}
			r := allOps[op](w, "g")
			w.expectOK(r, "")
			w.expectStatus("g", core.StatusRemoved)
			if cs := w.all("g"); len(cs) != 0 {
				t.Errorf("containers left: %+v", cs)
			}
		})
	}
}
