package storetest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

var batchReadCases = []testCase{
	{"GetMany", testGetMany},
	{"ListOperationsMany", testListOperationsMany},
}

// testGetMany: the records of the games that have one, as Get returns
// them; games without a record are absent.
func testGetMany(t *testing.T, s ports.Store) {
	br := testenv.Capability[ports.BatchReader](t, s)
	ctx := t.Context()
	a, b := sampleRecord(newGameID("getmanya")), sampleRecord(newGameID("getmanyb"))
	b = b.Stopped(at(4))
	mustCreate(t, ctx, s, a)
	mustCreate(t, ctx, s, b)
	missing := newGameID("getmanynone")
	got, err := br.GetMany(ctx, []string{a.GameID, missing, b.GameID, a.GameID})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	diff(t, "GetMany", map[string]core.Record{a.GameID: mustGet(t, ctx, s, a.GameID), b.GameID: mustGet(t, ctx, s, b.GameID)}, got)
	if empty, err := br.GetMany(ctx, nil); err != nil || len(empty) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v", empty, err)
	}
}

// testListOperationsMany: per game, what ListOperations returns with the
// same limit, also for a game listed twice.
func testListOperationsMany(t *testing.T, s ports.Store) {
	br := testenv.Capability[ports.BatchReader](t, s)
	a, b, none := newGameID("listmanya"), newGameID("listmanyb"), newGameID("listmanynone")
	for i := range 5 {
		mustAppend(t, s, sampleEntry(a, i))
		if i%2 == 0 {
			mustAppend(t, s, sampleEntry(b, 10+i))
		}
	}
	for _, limit := range []int{0, 2} {
		got, err := br.ListOperationsMany(t.Context(), []string{a, b, none, a}, limit)
		if err != nil {
			t.Fatalf("ListOperationsMany(limit %d): %v", limit, err)
		}
		want := map[string][]core.OperationEntry{a: mustListOps(t, s, a, limit), b: mustListOps(t, s, b, limit)}
		diff(t, "ListOperationsMany", want, got)
	}
}
