package storetest

import (
	"errors"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

var batchCreateCases = []testCase{
	{"CreateMany", testCreateMany},
}

// testCreateMany: each record has Create's meaning on its own — the games
// without a record get theirs, exactly as Get returns it afterwards; a game
// that has one keeps it and gets ErrConflict, as does a second record of
// the same game in the batch; an empty batch writes nothing.
func testCreateMany(t *testing.T, s ports.Store) {
	bc := testenv.Capability[ports.BatchCreator](t, s)
	ctx := t.Context()
	old := sampleRecord(newGameID("createmanyold")).Stopped(at(4))
	mustCreate(t, ctx, s, old)
	a, b := sampleRecord(newGameID("createmanya")), sampleRecord(newGameID("createmanyb"))
	b.Env = map[string]string{"K": "v"}
	clash := sampleRecord(old.GameID) // would overwrite the stopped record
	twice := a
	twice.ImageRef = "other:1"
	errs, err := bc.CreateMany(ctx, []core.Record{a, clash, b, twice})
	if err != nil {
		t.Fatalf("CreateMany: %v", err)
	}
	if len(errs) != 4 {
		t.Fatalf("CreateMany returned %d errors for 4 records", len(errs))
	}
	for i, want := range []error{nil, ports.ErrConflict, nil, ports.ErrConflict} {
		if (want == nil) != (errs[i] == nil) || (want != nil && !errors.Is(errs[i], want)) {
			t.Errorf("record %d: %v, want %v", i, errs[i], want)
		}
	}
	diff(t, "created a", a, mustGet(t, ctx, s, a.GameID))
	diff(t, "created b", b, mustGet(t, ctx, s, b.GameID))
	diff(t, "existing record", old, mustGet(t, ctx, s, old.GameID))
	if errs, err := bc.CreateMany(ctx, nil); err != nil || len(errs) != 0 {
		t.Fatalf("CreateMany(nil) = %v, %v", errs, err)
	}
}
