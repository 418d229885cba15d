package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var listCases = []testCase{
	{"StatusFilter", testListStatusFilter},
	{"Pages", testListPages},
	{"PagesOfExactSize", testListPagesOfExactSize},
	{"DefaultLimit", testListDefaultLimit},
	{"CountByStatus", testCountByStatus},
	{"HeadsPages", testHeadsPages},
	{"HeadsDefaultLimit", testHeadsDefaultLimit},
}

// listSet creates n records whose ids share a prefix and sort in creation
// order, with statuses cycling through core.Statuses and every other one
// carrying a pending automatic restart. It returns the prefix
// (a cursor before all of them) and the records. The prefix is "zz", the
// wall clock in fixed-width hex and a random part, so the set sorts after
// the records of every other subtest and of earlier runs.
func listSet(t *testing.T, s ports.Store, n int) (string, []core.Record) {
	t.Helper()
	prefix := fmt.Sprintf("zz%016x%s", time.Now().UnixNano(), randomHex(2))
	statuses := core.Statuses()
	recs := make([]core.Record, n)
	for i := range recs {
		r := sampleRecord(fmt.Sprintf("%sr%03d", prefix, i))
		r.Status = statuses[i%len(statuses)]
		r.Generation = int64(i + 1)
		if i%2 == 1 {
			r.NextRestartAt = ptr(at(10 + i))
		}
		mustCreate(t, t.Context(), s, r)
		recs[i] = r
	}
	return prefix, recs
}

// walk lists every page after cursor with limit, up to maxPages pages, and
// returns the pages and the cursors that came with them.
func walk(t *testing.T, s ports.Store, q ports.ListQuery, maxPages int) (pages [][]core.Record, nexts []string) {
	t.Helper()
	return walkPages(t, "List", s.List, q, maxPages)
}

// walkPages is walk over any paged listing of the store (List, ListHeads).
func walkPages[T any](t *testing.T, name string, list func(context.Context, ports.ListQuery) ([]T, string, error),
	q ports.ListQuery, maxPages int) (pages [][]T, nexts []string) {
	t.Helper()
	for range maxPages {
		items, next, err := list(t.Context(), q)
		if err != nil {
			t.Fatalf("%s(%+v): %v", name, q, err)
		}
		pages, nexts = append(pages, items), append(nexts, next)
		if next == "" {
			return pages, nexts
		}
		q.After = next
	}
	t.Fatalf("%s did not end with an empty cursor within %d pages; cursors %q", name, maxPages, nexts)
	return nil, nil
}

// flatten joins pages into one slice.
func flatten[T any](pages [][]T) []T {
	var out []T
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

// testListStatusFilter: List and ListHeads select by status (or not).
func testListStatusFilter(t *testing.T, s ports.Store) {
	prefix, recs := listSet(t, s, 8)
	for _, st := range append(core.Statuses(), "") {
		t.Run("status="+string(st), func(t *testing.T) {
			var want []core.Record
			for _, r := range recs {
				if st == "" || r.Status == st {
					want = append(want, r)
				}
			}
			q := ports.ListQuery{Status: st, After: prefix, Limit: 50}
			items, next, err := s.List(t.Context(), q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			diff(t, "items", want, items)
			if next != "" {
				t.Errorf("next = %q on the only page, want empty", next)
			}
			// ListHeads selects the same records, each cut to its head.
			hs, next, err := s.ListHeads(t.Context(), q)
			if err != nil {
				t.Fatalf("ListHeads: %v", err)
			}
			diff(t, "heads", heads(want), hs)
			if next != "" {
				t.Errorf("ListHeads next = %q on the only page, want empty", next)
			}
		})
	}
}

func testListPages(t *testing.T, s ports.Store) {
	prefix, recs := listSet(t, s, 7)
	pages, nexts := walk(t, s, ports.ListQuery{After: prefix, Limit: 3}, 10)
	diff(t, "records across pages", recs, flatten(pages))
	var sizes []int
	for _, p := range pages {
		sizes = append(sizes, len(p))
	}
	diff(t, "page sizes", []int{3, 3, 1}, sizes)
	diff(t, "cursors", []string{recs[2].GameID, recs[5].GameID, ""}, nexts)
}

func testListPagesOfExactSize(t *testing.T, s ports.Store) {
	prefix, recs := listSet(t, s, 6)
	pages, _ := walk(t, s, ports.ListQuery{After: prefix, Limit: 3}, 10)
	diff(t, "records across pages", recs, flatten(pages))
	// The last full page may carry a cursor to one empty page, or none.
	switch {
	case len(pages) == 2:
	case len(pages) == 3 && len(pages[2]) == 0:
	default:
		t.Errorf("got %d pages of 6 records with limit 3, want 2 (or 3 with an empty last)", len(pages))
	}
}

func testListDefaultLimit(t *testing.T, s ports.Store) {
	prefix, recs := listSet(t, s, 101)
	for _, limit := range []int{0, -1} {
		items, next, err := s.List(t.Context(), ports.ListQuery{After: prefix, Limit: limit})
		if err != nil {
			t.Fatalf("List(limit %d): %v", limit, err)
		}
		if len(items) != 100 {
			t.Fatalf("List(limit %d) returned %d items, want the default of 100", limit, len(items))
		}
		diff(t, fmt.Sprintf("default page (limit %d)", limit), recs[:100], items)
		if next != recs[99].GameID {
			t.Errorf("List(limit %d) next = %q, want %q", limit, next, recs[99].GameID)
		}
	}
	pages, _ := walk(t, s, ports.ListQuery{After: recs[99].GameID}, 3)
	diff(t, "last page", recs[100:], flatten(pages))
}

func testCountByStatus(t *testing.T, s ports.Store) {
	ctx := t.Context()
	before, err := s.CountByStatus(ctx)
	if err != nil {
		t.Fatalf("CountByStatus: %v", err)
	}
	added := map[core.Status]int{}
	var running core.Record
	for i, st := range core.Statuses() {
		for range i + 1 {
			r := sampleRecord(newGameID("count"))
			r.Status = st
			mustCreate(t, ctx, s, r)
			added[st]++
			if st == core.StatusRunning {
				running = r
			}
		}
	}
	check := func(what string) {
		t.Helper()
		after, err := s.CountByStatus(ctx)
		if err != nil {
			t.Fatalf("CountByStatus: %v", err)
		}
		got := map[core.Status]int{}
		for _, st := range core.Statuses() {
			if n := after[st] - before[st]; n != 0 {
				got[st] = n
			}
		}
		diff(t, what, added, got)
	}
	check("counts added by Create")

	if err := s.Swap(ctx, ports.ExpectOf(running), running.Stopped(at(4))); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	added[core.StatusRunning]--
	added[core.StatusStopped]++
	check("counts after a Swap to stopped")
}
