package storetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/core"
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
	testSwapWrite(t, s, "SwapAppend", create, want, func(expect ports.Expect, next core.Record, e core.OperationEntry) error {
		return sa.SwapAppend(t.Context(), expect, next, e)
	})
}

// testSwapWrite checks write, a swap written with its audit entry (named
// what), on a record that exists (create) or not: the matching swap writes
// the record and the entry; a losing one (want ErrConflict or ErrNotFound)
// writes neither and fails as Swap does.
func testSwapWrite(t *testing.T, s ports.Store, what string, create bool, want error,
	write func(ports.Expect, core.Record, core.OperationEntry) error) {
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
	err := write(expect, next, entry)
	ops := mustListOps(t, s, rec.GameID, 0)
	if want != nil {
		wantErr(t, what, err, want)
		if len(ops) != 0 {
			t.Errorf("a losing %s appended %d entries", what, len(ops))
		}
		if create {
			diff(t, "record after a losing "+what, rec, mustGet(t, ctx, s, rec.GameID))
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	diff(t, "record after "+what, next, mustGet(t, ctx, s, rec.GameID))
	if len(ops) != 1 {
		t.Fatalf("%s appended %d entries, want 1", what, len(ops))
	}
	entry.ID = ops[0].ID
	diff(t, "entry after "+what, entry, ops[0])
}
