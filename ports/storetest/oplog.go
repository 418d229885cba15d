package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var operationCases = []testCase{
	{"IDsIncrease", testOperationIDsIncrease},
	{"RoundTrip", testOperationRoundTrip},
	{"NewestFirstAndLimit", testOperationsNewestFirst},
	{"DefaultLimit", testOperationsDefaultLimit},
	{"UnknownGame", testOperationsUnknownGame},
}

// sampleEntry returns an operation entry of gameID with every field set;
// n varies the entry.
func sampleEntry(gameID string, n int) core.OperationEntry {
	return core.OperationEntry{
		GameID:        gameID,
		OpKind:        core.OpRestart,
		OpSource:      core.SourceREST,
		SourceRef:     fmt.Sprintf("req-%d", n),
		CorrelationID: "corr-" + gameID,
		ImageRef:      "registry.example/engine:1.2.3",
		ContainerID:   fmt.Sprintf("container-%d", n),
		Outcome:       core.OutcomeFailure,
		ErrorCode:     core.CodeStartFailed,
		ErrorMessage:  fmt.Sprintf("engine exited with code %d during start-up", n),
		StartedAt:     at(n),
		FinishedAt:    at(n).Add(1500 * time.Millisecond),
	}
}

// mustAppend appends e and returns e with its id set.
func mustAppend(tb testing.TB, s ports.Store, e core.OperationEntry) core.OperationEntry {
	tb.Helper()
	id, err := s.AppendOperation(tb.Context(), e)
	if err != nil {
		tb.Fatalf("AppendOperation(%s): %v", e.GameID, err)
	}
	e.ID = id
	return e
}

// mustListOps lists the operations of gameID or fails the test.
func mustListOps(tb testing.TB, s ports.Store, gameID string, limit int) []core.OperationEntry {
	tb.Helper()
	got, err := s.ListOperations(tb.Context(), gameID, limit)
	if err != nil {
		tb.Fatalf("ListOperations(%s, %d): %v", gameID, limit, err)
	}
	return got
}

func testOperationIDsIncrease(t *testing.T, s ports.Store) {
	a, b := newGameID("opsa"), newGameID("opsb")
	var last int64
	for i := range 6 {
		game := a
		if i%2 == 1 {
			game = b
		}
		e := mustAppend(t, s, sampleEntry(game, i))
		if e.ID <= last {
			t.Fatalf("append %d got id %d, not above the previous id %d", i, e.ID, last)
		}
		last = e.ID
	}
}

func testOperationRoundTrip(t *testing.T, s ports.Store) {
	game := newGameID("opsrt")
	full := sampleEntry(game, 1)
	success := core.OperationEntry{GameID: game, OpKind: core.OpStart, OpSource: core.SourceStream,
		SourceRef: "1700000000000-0", Outcome: core.OutcomeSuccess, ErrorCode: core.CodeReplayNoOp,
		StartedAt: at(2), FinishedAt: at(2)}
	minimal := core.OperationEntry{GameID: game, OpKind: core.OpReconcile, OpSource: core.SourceReconciler,
		Outcome: core.OutcomeSuccess, StartedAt: at(3), FinishedAt: at(3)}
	want := []core.OperationEntry{mustAppend(t, s, full), mustAppend(t, s, success), mustAppend(t, s, minimal)}
	slices.Reverse(want)
	diff(t, "listed operations", want, mustListOps(t, s, game, 0))
}

func testOperationsNewestFirst(t *testing.T, s ports.Store) {
	game, other := newGameID("opsnf"), newGameID("opsother")
	var all []core.OperationEntry
	for i := range 5 {
		all = append(all, mustAppend(t, s, sampleEntry(game, i)))
		mustAppend(t, s, sampleEntry(other, i))
	}
	slices.Reverse(all)
	tests := []struct {
		limit int
		want  []core.OperationEntry
	}{
		{1, all[:1]},
		{3, all[:3]},
		{5, all},
		{50, all},
	}
	for _, tc := range tests {
		diff(t, fmt.Sprintf("ListOperations(limit %d)", tc.limit), tc.want, mustListOps(t, s, game, tc.limit))
	}
}

func testOperationsDefaultLimit(t *testing.T, s ports.Store) {
	game := newGameID("opsdef")
	var all []core.OperationEntry
	for i := range 51 {
		all = append(all, mustAppend(t, s, sampleEntry(game, i)))
	}
	slices.Reverse(all)
	for _, limit := range []int{0, -1} {
		got := mustListOps(t, s, game, limit)
		if len(got) != 50 {
			t.Fatalf("ListOperations(limit %d) returned %d entries, want the default of 50", limit, len(got))
		}
		diff(t, fmt.Sprintf("ListOperations(limit %d)", limit), all[:50], got)
	}
}

func testOperationsUnknownGame(t *testing.T, s ports.Store) {
	mustAppend(t, s, sampleEntry(newGameID("opsknown"), 1))
	if got := mustListOps(t, s, newGameID("opsunknown"), 10); len(got) != 0 {
		t.Errorf("ListOperations of an unknown game = %v, want no entries", got)
	}
}
