package lifecycle

import (
	"errors"
	"fmt"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestBatchedAppendFailures: a batch of audit entries the store refuses
// is appended entry by entry (a refused entry fails only its own caller);
// a batch that met an unavailable store is not appended again, since it
// may have committed unseen.
func TestBatchedAppendFailures(t *testing.T) {
	entries := func(game string) []core.OperationEntry {
		var es []core.OperationEntry
		for i := range 3 {
			es = append(es, core.OperationEntry{GameID: game, OpKind: core.OpStop, OpSource: core.SourceStream,
				SourceRef: fmt.Sprintf("%d-0", i+1), Outcome: core.OutcomeSuccess})
		}
		return es
	}
	refused := fmt.Errorf("bad entry: %w", ports.ErrInvalid)

	t.Run("refused", func(t *testing.T) {
		store := memory.NewStore()
		store.FailNext(memory.MethodAppendOperations, refused)
		store.FailNth(memory.MethodAppendOperation, 2, refused) // the second single append
		l := newBatchedLog(store)
		out, err := l.appendOp.Flush(t.Context(), entries("g1"))
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
		for i, r := range out {
			if (i == 1) != (r.err != nil) {
				t.Fatalf("entry %d: %+v; want only entry 1 to fail", i, r)
			}
		}
		got, _ := store.ListOperations(t.Context(), "g1", 0)
		if len(got) != 2 {
			t.Fatalf("%d entries appended, want 2", len(got))
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		store := memory.NewStore()
		store.FailNext(memory.MethodAppendOperations, ports.ErrUnavailable)
		l := newBatchedLog(store)
		if _, err := l.appendOp.Flush(t.Context(), entries("g2")); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("Flush = %v, want ErrUnavailable", err)
		}
		if n := store.Calls(memory.MethodAppendOperation); n != 0 {
			t.Fatalf("%d single appends after an unavailable batch, want 0", n)
		}
	})
}
