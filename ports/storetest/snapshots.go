package storetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var snapshotCases = []testCase{
	{"GetMissing", testSnapshotMissing},
	{"RoundTrip", testSnapshotRoundTrip},
	{"Replace", testSnapshotReplace},
	{"OlderEventDoesNotReplace", testSnapshotOlderEvent},
	{"NoAliasing", testSnapshotNoAliasing},
}

// sampleSnapshot returns a health_check_failed snapshot of gameID with
// JSON-compatible details (strings and float64 numbers).
func sampleSnapshot(gameID string) core.HealthSnapshot {
	return core.HealthSnapshot{
		GameID:        gameID,
		ContainerID:   "c0ffee" + randomHex(29),
		LastEventType: core.EventHealthCheckFailed,
		LastEventAt:   at(10),
		Details: map[string]any{
			"consecutive_failures": float64(3),
			"last_error":           "GET /healthz: connection refused",
			"ratio":                0.25,
		},
		ConsecutiveFailures: 3,
	}
}

func mustUpsert(tb testing.TB, s ports.Store, snap core.HealthSnapshot) {
	tb.Helper()
	if err := s.UpsertSnapshot(tb.Context(), snap); err != nil {
		tb.Fatalf("UpsertSnapshot(%s): %v", snap.GameID, err)
	}
}

func mustGetSnapshot(tb testing.TB, s ports.Store, gameID string) core.HealthSnapshot {
	tb.Helper()
	got, err := s.GetSnapshot(tb.Context(), gameID)
	if err != nil {
		tb.Fatalf("GetSnapshot(%s): %v", gameID, err)
	}
	return got
}

func testSnapshotMissing(t *testing.T, s ports.Store) {
	mustUpsert(t, s, sampleSnapshot(newGameID("snapother")))
	_, err := s.GetSnapshot(t.Context(), newGameID("snapmissing"))
	wantErr(t, "GetSnapshot of a game without one", err, ports.ErrNotFound)
}

func testSnapshotRoundTrip(t *testing.T, s ports.Store) {
	failed := sampleSnapshot(newGameID("snaprt"))
	exited := core.HealthSnapshot{GameID: newGameID("snaprt"), ContainerID: "abc",
		LastEventType: core.EventContainerExited, LastEventAt: at(11),
		Details: map[string]any{"exit_code": float64(137)}}
	bare := core.HealthSnapshot{GameID: newGameID("snaprt"), LastEventType: core.EventContainerDisappeared,
		LastEventAt: at(12)}
	for _, snap := range []core.HealthSnapshot{failed, exited, bare} {
		mustUpsert(t, s, snap)
		diff(t, "snapshot of "+snap.GameID, snap, mustGetSnapshot(t, s, snap.GameID))
	}
}

func testSnapshotReplace(t *testing.T, s ports.Store) {
	first := sampleSnapshot(newGameID("snaprep"))
	mustUpsert(t, s, first)
	second := core.HealthSnapshot{GameID: first.GameID, ContainerID: "new-container",
		LastEventType: core.EventHealthCheckRecovered, LastEventAt: at(20),
		Details: map[string]any{"after": "3 failures"}}
	mustUpsert(t, s, second)
	diff(t, "replaced snapshot", second, mustGetSnapshot(t, s, first.GameID))
}

// testSnapshotOlderEvent: with several instances publishing, an event that
// arrives late must not replace a newer snapshot.
func testSnapshotOlderEvent(t *testing.T, s ports.Store) {
	newer := sampleSnapshot(newGameID("snapold"))
	newer.LastEventAt = at(30)
	mustUpsert(t, s, newer)
	older := core.HealthSnapshot{GameID: newer.GameID, ContainerID: "stale", LastEventType: core.EventContainerStarted,
		LastEventAt: at(10)}
	mustUpsert(t, s, older)
	diff(t, "snapshot after a late older event", newer, mustGetSnapshot(t, s, newer.GameID))
}

func testSnapshotNoAliasing(t *testing.T, s ports.Store) {
	snap := sampleSnapshot(newGameID("snapalias"))
	want := snap
	want.Details = map[string]any{}
	for k, v := range snap.Details {
		want.Details[k] = v
	}
	mustUpsert(t, s, snap)
	snap.Details["last_error"] = "changed by the caller"
	got := mustGetSnapshot(t, s, snap.GameID)
	diff(t, "snapshot after the caller changed its input", want, got)
	got.Details["ratio"] = 1.0
	diff(t, "snapshot after the caller changed a result", want, mustGetSnapshot(t, s, snap.GameID))
}
