package ports

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
)

// SwapSnapshotter is an optional capability of a Store that is also a
// SwapAppender: the last swap of an operation, its audit entry and the
// health snapshot of the event the swap causes (a start's
// container_started), written together. Lifecycle uses it so a start's
// snapshot costs no statement of its own (docs/BENCHMARKS.md, P2).
type SwapSnapshotter interface {
	// SwapAppendSnapshot does SwapAppend(expect, next, e) and, only if the
	// swap succeeds, UpsertSnapshot(s), as one atomic step. When the swap
	// fails nothing is written. Errors: those of Swap, and ErrInvalid
	// (nothing written) when s cannot be stored, e.g. Details that do not
	// encode as JSON.
	SwapAppendSnapshot(ctx context.Context, expect Expect, next core.Record, e core.OperationEntry, s core.HealthSnapshot) error
}

// SwapSnapshot is one SwapAppendSnapshot of a batch.
type SwapSnapshot struct {
	Expect   Expect
	Next     core.Record
	Entry    core.OperationEntry
	Snapshot core.HealthSnapshot
}

// BatchSwapSnapshotter is an optional capability of a SwapSnapshotter:
// many SwapAppendSnapshot calls committed together (one round trip, one
// commit). Each item has exactly the meaning of the single call — its swap
// is a compare-and-swap on its own Expect, and its entry and snapshot are
// written only if its swap is — independently of the others; the batch
// only saves round trips and commits (docs/BENCHMARKS.md, P3). Lifecycle
// uses it when several starts write their running records at once.
type BatchSwapSnapshotter interface {
	// SwapAppendSnapshotMany does SwapAppendSnapshot for every item and
	// returns, in order, each one's error (nil, ErrConflict, ErrNotFound,
	// ErrInvalid when it cannot be stored: nothing of it is written). The
	// second result fails the whole batch, nothing written: ErrUnavailable
	// (it may also have committed without the answer arriving), or another
	// error of the database, after which each item may go alone.
	SwapAppendSnapshotMany(ctx context.Context, items []SwapSnapshot) ([]error, error)
}
