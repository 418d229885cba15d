package storetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

var swapSnapshotBatchCases = []testCase{
	{"SwapAppendSnapshotMany", testSwapSnapshotMany},
}

// testSwapSnapshotMany: each item has SwapAppendSnapshot's meaning on its
// own — a matching swap writes its record, entry and snapshot; a stale
// expect (ErrConflict), a missing record (ErrNotFound) and a snapshot that
// cannot be stored (ErrInvalid) write nothing of their item and cost the
// others nothing.
func testSwapSnapshotMany(t *testing.T, s ports.Store) {
	bs := testenv.Capability[ports.BatchSwapSnapshotter](t, s)
	ctx := t.Context()
	var recs [4]core.Record
	for i, name := range []string{"ssmanyok", "ssmanystale", "ssmanyok2", "ssmanybad"} {
		recs[i] = sampleRecord(newGameID(name))
		mustCreate(t, ctx, s, recs[i])
	}
	stale := ports.ExpectOf(recs[1])
	stale.Generation++
	missing := sampleRecord(newGameID("ssmanynone"))
	bad := sampleSnapshot(recs[3].GameID)
	bad.Details = map[string]any{"bad": make(chan int)}
	item := func(expect ports.Expect, rec core.Record, snap core.HealthSnapshot) ports.SwapSnapshot {
		return ports.SwapSnapshot{Expect: expect, Next: rec.Stopped(at(5)), Entry: sampleEntry(rec.GameID, 1), Snapshot: snap}
	}
	items := []ports.SwapSnapshot{
		item(ports.ExpectOf(recs[0]), recs[0], sampleSnapshot(recs[0].GameID)),
		item(stale, recs[1], sampleSnapshot(recs[1].GameID)),
		item(ports.ExpectOf(missing), missing, sampleSnapshot(missing.GameID)),
		item(ports.ExpectOf(recs[2]), recs[2], sampleSnapshot(recs[2].GameID)),
		item(ports.ExpectOf(recs[3]), recs[3], bad),
	}
	errs, err := bs.SwapAppendSnapshotMany(ctx, items)
	if err != nil {
		t.Fatalf("SwapAppendSnapshotMany: %v", err)
	}
	if len(errs) != len(items) {
		t.Fatalf("SwapAppendSnapshotMany returned %d errors for %d items", len(errs), len(items))
	}
	for i, want := range []error{nil, ports.ErrConflict, ports.ErrNotFound, nil, ports.ErrInvalid} {
		if want == nil {
			if errs[i] != nil {
				t.Errorf("item %d: %v, want success", i, errs[i])
			}
			continue
		}
		wantErr(t, "SwapAppendSnapshotMany item", errs[i], want)
	}
	for i, wrote := range map[int]bool{0: true, 1: false, 3: true, 4: false} {
		it := items[i]
		ops := len(mustListOps(t, s, it.Next.GameID, 0))
		_, serr := s.GetSnapshot(ctx, it.Next.GameID)
		if !wrote {
			idx := map[int]int{1: 1, 4: 3}[i]
			diff(t, "record of a losing item", recs[idx], mustGet(t, ctx, s, it.Next.GameID))
			wantErr(t, "snapshot of a losing item", serr, ports.ErrNotFound)
			if ops != 0 {
				t.Errorf("item %d lost but appended %d entries", i, ops)
			}
			continue
		}
		diff(t, "record of a matching item", it.Next, mustGet(t, ctx, s, it.Next.GameID))
		diff(t, "snapshot of a matching item", it.Snapshot, mustGetSnapshot(t, s, it.Next.GameID))
		if ops != 1 {
			t.Errorf("item %d appended %d entries, want 1", i, ops)
		}
	}
}
