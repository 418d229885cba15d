package storetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/ports"
)

var swapAppendCases = []testCase{
	{"Matching", func(t *testing.T, s ports.Store) { testSwapAppend(t, s, true, nil) }},
	{"Conflict", func(t *testing.T, s ports.Store) { testSwapAppend(t, s, true, ports.ErrConflict) }},
	{"Missing", func(t *testing.T, s ports.Store) { testSwapAppend(t, s, false, ports.ErrNotFound) }},
}

// testSwapAppend checks ports.SwapAppender where the store has it: a
// matching swap writes the record and the entry; a losing one writes
// neither and fails as Swap does.
func testSwapAppend(t *testing.T, s ports.Store, create bool, want error) {
	sa, ok := s.(ports.SwapAppender)
	if !ok {
		t.Skip("the store does not implement ports.SwapAppender")
	}
	ctx := t.Context()
	rec := sampleRecord(newGameID("swapapp"))
	if create {
		mustCreate(t, ctx, s, rec)
	}
	expect := ports.ExpectOf(rec)
	if want == ports.ErrConflict {
		expect.Generation++
	}
	next := rec.Stopped(at(5))
	entry := sampleEntry(rec.GameID, 3)
	err := sa.SwapAppend(ctx, expect, next, entry)
	ops := mustListOps(t, s, rec.GameID, 0)
	if want != nil {
		wantErr(t, "SwapAppend", err, want)
		if len(ops) != 0 {
			t.Errorf("a losing SwapAppend appended %d entries", len(ops))
		}
		if create {
			diff(t, "record after a losing SwapAppend", rec, mustGet(t, ctx, s, rec.GameID))
		}
		return
	}
	if err != nil {
		t.Fatalf("SwapAppend: %v", err)
	}
	diff(t, "record after SwapAppend", next, mustGet(t, ctx, s, rec.GameID))
	if len(ops) != 1 {
		t.Fatalf("SwapAppend appended %d entries, want 1", len(ops))
	}
	entry.ID = ops[0].ID
	diff(t, "entry after SwapAppend", entry, ops[0])
}
