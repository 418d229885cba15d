package storetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var swapSnapshotCases = []testCase{
	{"Matching", func(t *testing.T, s ports.Store) { testSwapSnapshot(t, s, true, nil) }},
	{"Conflict", func(t *testing.T, s ports.Store) { testSwapSnapshot(t, s, true, ports.ErrConflict) }},
	{"Missing", func(t *testing.T, s ports.Store) { testSwapSnapshot(t, s, false, ports.ErrNotFound) }},
	{"OlderEventKeepsSnapshot", testSwapSnapshotOlder},
	{"InvalidDetails", testSwapSnapshotInvalid},
}

// swapSnapshotter returns s as a ports.SwapSnapshotter or skips t.
func swapSnapshotter(t *testing.T, s ports.Store) ports.SwapSnapshotter {
	ss, ok := s.(ports.SwapSnapshotter)
	if !ok {
		t.Skip("the store does not implement ports.SwapSnapshotter")
	}
	return ss
}

// testSwapSnapshot checks that a matching SwapAppendSnapshot writes the
// record, the entry and the snapshot, and a losing one none of them.
func testSwapSnapshot(t *testing.T, s ports.Store, create bool, want error) {
	ss := swapSnapshotter(t, s)
	var snap core.HealthSnapshot
	testSwapWrite(t, s, "SwapAppendSnapshot", create, want, func(expect ports.Expect, next core.Record, e core.OperationEntry) error {
		snap = sampleSnapshot(next.GameID)
		return ss.SwapAppendSnapshot(t.Context(), expect, next, e, snap)
	})
	if want != nil {
		_, err := s.GetSnapshot(t.Context(), snap.GameID)
		wantErr(t, "GetSnapshot after a losing SwapAppendSnapshot", err, ports.ErrNotFound)
		return
	}
	diff(t, "snapshot after SwapAppendSnapshot", snap, mustGetSnapshot(t, s, snap.GameID))
}

// testSwapSnapshotOlder checks that the snapshot part follows
// UpsertSnapshot's rule: a stored snapshot of a later event stays, and the
// swap and entry are still written.
func testSwapSnapshotOlder(t *testing.T, s ports.Store) {
	ss := swapSnapshotter(t, s)
	ctx := t.Context()
	rec := sampleRecord(newGameID("swapsnapold"))
	mustCreate(t, ctx, s, rec)
	newer := sampleSnapshot(rec.GameID)
	mustUpsert(t, s, newer)
	older := newer
	older.LastEventType, older.LastEventAt, older.Details = core.EventContainerStarted, at(1), nil
	next := rec.Stopped(at(5))
	if err := ss.SwapAppendSnapshot(ctx, ports.ExpectOf(rec), next, sampleEntry(rec.GameID, 1), older); err != nil {
		t.Fatalf("SwapAppendSnapshot: %v", err)
	}
	diff(t, "record after SwapAppendSnapshot", next, mustGet(t, ctx, s, rec.GameID))
	if n := len(mustListOps(t, s, rec.GameID, 0)); n != 1 {
		t.Errorf("SwapAppendSnapshot appended %d entries, want 1", n)
	}
	diff(t, "snapshot after an older event", newer, mustGetSnapshot(t, s, rec.GameID))
}

// testSwapSnapshotInvalid checks that a snapshot that cannot be stored is
// ErrInvalid and writes nothing, so the caller can write the swap without
// it.
func testSwapSnapshotInvalid(t *testing.T, s ports.Store) {
	ss := swapSnapshotter(t, s)
	ctx := t.Context()
	rec := sampleRecord(newGameID("swapsnapinv"))
	mustCreate(t, ctx, s, rec)
	snap := sampleSnapshot(rec.GameID)
	snap.Details = map[string]any{"bad": make(chan int)}
	err := ss.SwapAppendSnapshot(ctx, ports.ExpectOf(rec), rec.Stopped(at(5)), sampleEntry(rec.GameID, 1), snap)
	wantErr(t, "SwapAppendSnapshot with details that do not encode", err, ports.ErrInvalid)
	diff(t, "record after an invalid SwapAppendSnapshot", rec, mustGet(t, ctx, s, rec.GameID))
	if n := len(mustListOps(t, s, rec.GameID, 0)); n != 0 {
		t.Errorf("an invalid SwapAppendSnapshot appended %d entries", n)
	}
}
