package storetest

import (
	"slices"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var operationBatchCases = []testCase{
	{"RoundTripAndOrder", testAppendOperations},
	{"AfterSingle", testAppendOperationsAfterSingle},
	{"Empty", testAppendOperationsEmpty},
}

// testAppendOperations checks that a batch of entries of two games comes
// back field for field, with ids growing in the order of the batch, as
// single appends in that order would.
func testAppendOperations(t *testing.T, s ports.Store) {
	a, b := newGameID("batcha"), newGameID("batchb")
	es := []core.OperationEntry{sampleEntry(a, 1), sampleEntry(b, 2), sampleEntry(a, 3), sampleEntry(a, 4)}
	es[1].OpKind, es[1].Outcome, es[1].ErrorCode, es[1].ErrorMessage = core.OpStop, core.OutcomeSuccess, "", ""
	ids, err := s.AppendOperations(t.Context(), es)
	if err != nil {
		t.Fatalf("AppendOperations: %v", err)
	}
	if len(ids) != len(es) {
		t.Fatalf("AppendOperations returned %d ids for %d entries", len(ids), len(es))
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatalf("ids %v do not grow along the batch", ids)
	}
	for i := range es {
		es[i].ID = ids[i]
	}
	// Newest first.
	diff(t, "entries of game a", []core.OperationEntry{es[3], es[2], es[0]}, mustListOps(t, s, a, 0))
	diff(t, "entries of game b", []core.OperationEntry{es[1]}, mustListOps(t, s, b, 0))
}

// testAppendOperationsAfterSingle checks that batch and single appends
// share one id order.
func testAppendOperationsAfterSingle(t *testing.T, s ports.Store) {
	g := newGameID("batchmix")
	first := mustAppend(t, s, sampleEntry(g, 1))
	ids, err := s.AppendOperations(t.Context(), []core.OperationEntry{sampleEntry(g, 2), sampleEntry(g, 3)})
	if err != nil {
		t.Fatalf("AppendOperations: %v", err)
	}
	last := mustAppend(t, s, sampleEntry(g, 4))
	if !(first.ID < ids[0] && ids[0] < ids[1] && ids[1] < last.ID) {
		t.Fatalf("ids single %d, batch %v, single %d do not grow", first.ID, ids, last.ID)
	}
	got := mustListOps(t, s, g, 0)
	refs := make([]string, len(got))
	for i, e := range got {
		refs[i] = e.SourceRef
	}
	if want := []string{"req-4", "req-3", "req-2", "req-1"}; !slices.Equal(refs, want) {
		t.Fatalf("entries newest first: %v, want %v", refs, want)
	}
}

// testAppendOperationsEmpty checks that an empty batch stores nothing and
// is not an error.
func testAppendOperationsEmpty(t *testing.T, s ports.Store) {
	ids, err := s.AppendOperations(t.Context(), nil)
	if err != nil || len(ids) != 0 {
		t.Fatalf("AppendOperations(nil) = %v, %v; want no ids, no error", ids, err)
	}
}
