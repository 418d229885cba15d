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
