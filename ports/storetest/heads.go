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
	for range maxPages {
		items, next, err := s.ListHeads(t.Context(), q)
		if err != nil {
			t.Fatalf("ListHeads(%+v): %v", q, err)
		}
		pages, nexts = append(pages, items), append(nexts, next)
		if next == "" {
			return pages, nexts
		}
		q.After = next
	}
	t.Fatalf("ListHeads did not end with an empty cursor within %d pages; cursors %q", maxPages, nexts)
	return nil, nil
}

// testHeadsStatusFilter: ListHeads selects what List selects, per status
// and unfiltered, and each head is its record's (status, container,
// generation, pending restart).
func testHeadsStatusFilter(t *testing.T, s ports.Store) {
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
			items, next, err := s.ListHeads(t.Context(), q)
			if err != nil {
				t.Fatalf("ListHeads: %v", err)
			}
			diff(t, "heads", heads(want), items)
			if next != "" {
				t.Errorf("next = %q on the only page, want empty", next)
			}
			full, _, err := s.List(t.Context(), q)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			diff(t, "heads against List", heads(full), items)
		})
	}
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
	var got []core.RecordHead
	var sizes []int
	for _, p := range pages {
		got, sizes = append(got, p...), append(sizes, len(p))
	}
	diff(t, "heads across pages", heads(recs), got)
	diff(t, "page sizes", []int{3, 3, 1}, sizes)
	diff(t, "cursors", []string{recs[2].GameID, recs[5].GameID, ""}, nexts)

	var stopped []core.Record
	for _, r := range recs {
		if r.Status == core.StatusStopped {
			stopped = append(stopped, r)
		}
	}
	pages, _ = walkHeads(t, s, ports.ListQuery{Status: core.StatusStopped, After: prefix, Limit: 1}, 10)
	got = nil
	for _, p := range pages {
		got = append(got, p...)
	}
	diff(t, "stopped heads one per page", heads(stopped), got)
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
	var last []core.RecordHead
	for _, p := range pages {
		last = append(last, p...)
	}
	diff(t, "last page", heads(recs[100:]), last)
}
