package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var reserveCases = []testCase{
	{"Limit", testReserveLimit},
	{"Race", testReserveRace},
}

// active counts the running and starting records of s.
func active(t *testing.T, s ports.Store) int {
	t.Helper()
	counts, err := s.CountByStatus(t.Context())
	if err != nil {
		t.Fatalf("CountByStatus: %v", err)
	}
	return counts[core.StatusRunning] + counts[core.StatusStarting]
}

// testReserveLimit: Reserve creates and swaps like Create and Swap while
// under the limit, refuses with ErrCapacity at it (writing nothing), does
// not count the game's own record, and ignores a limit of 0.
func testReserveLimit(t *testing.T, s ports.Store) {
	ctx := t.Context()
	limit := active(t, s) + 1 // the suite's records share the store
	a := core.Record{GameID: newGameID("reservea")}.Starting("engine:1", map[string]string{"K": "v"}, at(1))
	if err := s.Reserve(ctx, nil, a, limit); err != nil {
		t.Fatalf("Reserve under the limit: %v", err)
	}
	diff(t, "reserved record", a, mustGet(t, ctx, s, a.GameID))
	b := core.Record{GameID: newGameID("reserveb")}.Starting("engine:1", nil, at(2))
	if err := s.Reserve(ctx, nil, b, limit); !errors.Is(err, ports.ErrCapacity) {
		t.Fatalf("Reserve at the limit = %v, want ErrCapacity", err)
	}
	if _, err := s.Get(ctx, b.GameID); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("a refused Reserve wrote a record: %v", err)
	}
	// The game's own starting record does not count against it: a start
	// taking over its own reservation swaps it.
	again := a.Starting("engine:2", nil, at(3))
	exp := ports.ExpectOf(a)
	if err := s.Reserve(ctx, &exp, again, limit); err != nil {
		t.Fatalf("Reserve over the game's own record: %v", err)
	}
	diff(t, "swapped record", again, mustGet(t, ctx, s, a.GameID))
	if err := s.Reserve(ctx, &exp, again, 0); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("Reserve with a stale expect = %v, want ErrConflict", err)
	}
	if err := s.Reserve(ctx, nil, again, 0); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("Reserve creating an existing record = %v, want ErrConflict", err)
	}
	if err := s.Reserve(ctx, nil, b, 0); err != nil {
		t.Fatalf("Reserve without a limit: %v", err)
	}
}

// testReserveRace: racers reserving distinct games at once never exceed
// the limit together.
func testReserveRace(t *testing.T, s ports.Store) {
	ctx := t.Context()
	const room = 5
	limit := active(t, s) + room
	prefix := newGameID("reserverace")
	errs := race(func(i int) error {
		rec := core.Record{GameID: fmt.Sprintf("%s-%d", prefix, i)}.Starting("engine:1", nil, at(4))
		return s.Reserve(ctx, nil, rec, limit)
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ports.ErrCapacity):
			t.Errorf("racer %d: %v, want nil or ErrCapacity", i, err)
		}
	}
	if won != room {
		t.Errorf("%d racers reserved with room for %d", won, room)
	}
	if n := active(t, s); n != limit {
		t.Errorf("%d running or starting records, want the limit %d", n, limit)
	}
}
