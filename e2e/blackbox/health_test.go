//go:build e2e

package blackbox

import (
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
)

// testHealth checks the health events on runtime:health_events and the
// health snapshot for an engine that exits, one killed for memory, a
// container removed behind rtmanager's back and an engine failing probes.
func testHealth(t *testing.T, s *suite) {
	t.Run("started", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "he-st")
		rt := mustOp(t, s.inst, g, "start", startBody(s.image, nil))
		s.redis.awaitEvent(t, g, "container_started", rt.ContainerID)
		snap := harness.Await(t, eventWait, "snapshot of "+g, func() (healthSnapshot, bool) { return getHealth(t, s.inst, g) })
		if snap.GameID != g || snap.ContainerID != rt.ContainerID || snap.LastEventAt == nil {
			t.Errorf("snapshot %+v, want game %s container %s", snap, g, rt.ContainerID)
		}
	})

	t.Run("exit", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "he-ex")
		rt := mustOp(t, s.inst, g, "start", startBody(s.image, map[string]string{"ENGINE_EXIT_AFTER": "4s", "ENGINE_EXIT_CODE": "3"}))
		_, details := s.redis.awaitEvent(t, g, "container_exited", rt.ContainerID)
		if code, ok := num(details, "exit_code"); !ok || code != 3 {
			t.Errorf("container_exited details %v, want exit_code 3", details)
		}
		after := awaitStatus(t, s.inst, g, "stopped", eventWait)
		if after.ContainerID != rt.ContainerID || after.Endpoint != "" {
			t.Errorf("record after exit %+v; want stopped on %s without endpoint", after, rt.ContainerID)
		}
		checkDocker(t, g, after)
		snap := awaitSnapshot(t, s, g, "container_exited")
		if code, ok := num(snap.Details, "exit_code"); !ok || code != 3 || snap.ContainerID != rt.ContainerID {
			t.Errorf("snapshot %+v, want exit_code 3 of %s", snap, rt.ContainerID)
		}
		checkReconcilerEntry(t, s.inst, g, rt.ContainerID)
	})

	t.Run("oom", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "he-oom")
		rt := mustOp(t, s.inst, g, "start", startBody(s.image, map[string]string{"ENGINE_OOM": "1", "ENGINE_OOM_AFTER": "3s"}))
		ev, _ := s.redis.awaitEvent(t, g, "container_oom", rt.ContainerID)
		t.Logf("oom event %v", ev)
		after := awaitStatus(t, s.inst, g, "stopped", eventWait)
		checkDocker(t, g, after)
		_, details := s.redis.awaitEvent(t, g, "container_exited", rt.ContainerID)
		if code, ok := num(details, "exit_code"); !ok || code != 137 {
			t.Errorf("container_exited after an OOM kill: details %v, want exit_code 137", details)
		}
	})

	t.Run("disappeared", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "he-dis")
		rt := mustOp(t, s.inst, g, "start", startBody(s.image, nil))
		docker(t, "rm", "-f", rt.ContainerID)
		s.redis.awaitEvent(t, g, "container_disappeared", rt.ContainerID)
		after := awaitStatus(t, s.inst, g, "removed", eventWait)
		if after.Endpoint != "" {
			t.Errorf("removed record %+v keeps an endpoint", after)
		}
		checkDocker(t, g, after)
		snap := awaitSnapshot(t, s, g, "container_disappeared")
		if snap.ContainerID != rt.ContainerID {
			t.Errorf("snapshot %+v, want container %s", snap, rt.ContainerID)
		}
		checkReconcilerEntry(t, s.inst, g, rt.ContainerID)
	})

	t.Run("probe failure", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "he-pf")
		rt := mustOp(t, s.inst, g, "start", startBody(s.image, map[string]string{"ENGINE_UNHEALTHY_AFTER": "3s"}))
		_, details := s.redis.awaitEvent(t, g, "health_check_failed", rt.ContainerID)
		if n, ok := num(details, "consecutive_failures"); !ok || n != 3 {
			t.Errorf("health_check_failed details %v, want consecutive_failures 3 (RTMANAGER_PROBE_FAILURES)", details)
		}
		if msg, _ := details["last_error"].(string); msg == "" {
			t.Errorf("health_check_failed details %v lack last_error", details)
		}
		snap := awaitSnapshot(t, s, g, "health_check_failed")
		if snap.ConsecutiveFailures < 3 || snap.ContainerID != rt.ContainerID {
			t.Errorf("snapshot %+v, want at least 3 consecutive failures of %s", snap, rt.ContainerID)
		}
		// A failing probe is reported, not acted on: the record stays running.
		if now := mustRuntime(t, s.inst, g); now.Status != "running" || now.ContainerID != rt.ContainerID {
			t.Errorf("record after probe failures %+v; want still running on %s", now, rt.ContainerID)
		}
		mustOp(t, s.inst, g, "stop", stopBody)
	})
}

// awaitSnapshot waits until the game's health snapshot names event typ.
func awaitSnapshot(t *testing.T, s *suite, g, typ string) healthSnapshot {
	t.Helper()
	return harness.Await(t, 10*time.Second, "health snapshot "+typ+" of "+g, func() (healthSnapshot, bool) {
		snap, ok := getHealth(t, s.inst, g)
		return snap, ok && snap.LastEventType == typ
	})
}
