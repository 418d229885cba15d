package storetest

import (
	"fmt"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// heads returns the heads of recs.
func heads(recs []core.Record) []core.RecordHead {
	out := make([]core.RecordHead, len(recs))
	for i, r := range recs {
		out[i] = r.Head()
	}
	return out
}

// walkHeads is walk over ListHeads.
func walkHeads(t *testing.T, s ports.Store, q ports.ListQuery, maxPages int) (pages [][]core.RecordHead, nexts []string) {
	t.Helper()
	return walkPages(t, "ListHeads", s.ListHeads, q, maxPages)
}

// testHeadsPages: the same page sizes and cursors as List, unfiltered and
// by status, after a record changed by Swap.
func testHeadsPages(t *testing.T, s ports.Store) {
	prefix, recs := listSet(t, s, 7)
	moved := recs[3].Stopped(at(9))
	moved.Generation = 42
	if err := s.Swap(t.Context(), ports.ExpectOf(recs[3]), moved); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	recs[3] = moved
	pages, nexts := walkHeads(t, s, ports.ListQuery{After: prefix, Limit: 3}, 10)
	var sizes []int
	for _, p := range pages {
		sizes = append(sizes, len(p))
	}
	diff(t, "heads across pages", heads(recs), flatten(pages))
	diff(t, "page sizes", []int{3, 3, 1}, sizes)
	diff(t, "cursors", []string{recs[2].GameID, recs[5].GameID, ""}, nexts)

	var stopped []core.Record
	for _, r := range recs {
		if r.Status == core.StatusStopped {
			stopped = append(stopped, r)
		}
	}
	pages, _ = walkHeads(t, s, ports.ListQuery{Status: core.StatusStopped, After: prefix, Limit: 1}, 10)
	diff(t, "stopped heads one per page", heads(stopped), flatten(pages))
}

// testHeadsDefaultLimit: a limit of 0 or less means the default of 100,
// as for List.
func testHeadsDefaultLimit(t *testing.T, s ports.Store) {
	prefix, recs := listSet(t, s, 101)
	for _, limit := range []int{0, -1} {
		items, next, err := s.ListHeads(t.Context(), ports.ListQuery{After: prefix, Limit: limit})
		if err != nil {
			t.Fatalf("ListHeads(limit %d): %v", limit, err)
		}
		diff(t, fmt.Sprintf("default page (limit %d)", limit), heads(recs[:100]), items)
		if next != recs[99].GameID {
			t.Errorf("ListHeads(limit %d) next = %q, want %q", limit, next, recs[99].GameID)
		}
	}
	pages, _ := walkHeads(t, s, ports.ListQuery{After: recs[99].GameID}, 3)
	diff(t, "last page", heads(recs[100:]), flatten(pages))
}
