package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// racers is how many goroutines each race case runs.
const racers = 100

var raceCases = []testCase{
	{"Swap", testSwapRace},
	{"Create", testCreateRace},
	{"AppendOperation", testAppendRace},
}

// race runs f(i) on racers goroutines released at once and returns their
// errors by index.
func race(f func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one error is nil and every other wraps
// loser, and returns the winner's index.
func oneWinner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("racer %d: got error %v, want one wrapping %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer won")
	}
	return winner
}

func testSwapRace(t *testing.T, s ports.Store) {
	ctx := t.Context()
	rec := sampleRecord(newGameID("swaprace"))
	mustCreate(t, ctx, s, rec)
	expect := ports.ExpectOf(rec)
	next := func(i int) core.Record {
		n := rec.Starting(rec.ImageRef, nil, at(30)).Running(fmt.Sprintf("racer-%d", i), "127.0.0.1:2", at(31))
		return n
	}
	errs := race(func(i int) error { return s.Swap(ctx, expect, next(i)) })
	w := oneWinner(t, errs, ports.ErrConflict)
	diff(t, "record after the race", next(w), mustGet(t, ctx, s, rec.GameID))
}

func testCreateRace(t *testing.T, s ports.Store) {
	ctx := t.Context()
	game := newGameID("createrace")
	rec := func(i int) core.Record {
		r := sampleRecord(game)
		r.ContainerID = fmt.Sprintf("racer-%d", i)
		return r
	}
	errs := race(func(i int) error { return s.Create(ctx, rec(i)) })
	w := oneWinner(t, errs, ports.ErrConflict)
	diff(t, "record after the race", rec(w), mustGet(t, ctx, s, game))
}

func testAppendRace(t *testing.T, s ports.Store) {
	ctx := t.Context()
	game := newGameID("appendrace")
	ids := make([]int64, racers)
	errs := race(func(i int) error {
		var err error
		ids[i], err = s.AppendOperation(ctx, sampleEntry(game, i))
		return err
	})
	seen := map[int64]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: AppendOperation: %v", i, err)
		}
		if j, dup := seen[ids[i]]; dup {
			t.Fatalf("racers %d and %d both got id %d", j, i, ids[i])
		}
		seen[ids[i]] = i
	}
	got := mustListOps(t, s, game, racers)
	if len(got) != racers {
		t.Fatalf("ListOperations returned %d entries, want %d", len(got), racers)
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID >= got[i-1].ID {
			t.Fatalf("entries not newest first: id %d follows id %d", got[i].ID, got[i-1].ID)
		}
	}
}
