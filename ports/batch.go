package ports

import (
	"context"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

// LeaseClaim names one lease of a batch: the game, the holder's token and,
// for an acquisition, the lease's ttl.
type LeaseClaim struct {
	GameID string
	Token  string
	TTL    time.Duration
}

// LeaseBatcher is an optional capability of a LeaseStore: many
// acquisitions or releases in one round trip. Each claim has exactly the
// meaning of the single call (TryAcquire, Release), independently of the
// others in the batch; the batch only saves round trips (docs/BENCHMARKS.md,
// P3). Lifecycle uses it when several operations take or drop leases at
// the same moment.
type LeaseBatcher interface {
	// TryAcquireMany does TryAcquire for every claim and returns, in the
	// order of claims, whether each was taken. Two claims of the same game
	// in one batch: the first one may win, the second never does. Errors
	// (nothing is taken): ErrUnavailable; ErrInvalid for a ttl under the
	// store's resolution.
	TryAcquireMany(ctx context.Context, claims []LeaseClaim) ([]bool, error)
	// ReleaseMany does Release for every claim (TTL unused). Errors:
	// ErrUnavailable.
	ReleaseMany(ctx context.Context, claims []LeaseClaim) error
}

// Completion is one job with its result, for BatchCompleter.
type Completion struct {
	Job    Job
	Result JobResult
}

// BatchCompleter is an optional capability of a JobQueue: completing many
// jobs in one atomic step. Each completion has exactly the meaning of
// JobQueue.Complete (a job already completed writes nothing), so however
// the jobs are batched, every job gets exactly one result.
type BatchCompleter interface {
	// CompleteMany does Complete for every completion, in order, in one
	// atomic step. Errors (nothing is written): ErrInvalid when a
	// completion is one Complete refuses, ErrUnavailable.
	CompleteMany(ctx context.Context, cs []Completion) error
}

// BatchReader is an optional capability of a Store: the reads an
// operation makes under its game's lease, for many games in one round
// trip. Each game's answer is exactly what the single read would return at
// that moment; lifecycle uses it when several operations read at the same
// moment (docs/BENCHMARKS.md, P3).
type BatchReader interface {
	// GetMany returns the records of those gameIDs that have one, keyed by
	// game id; a game without a record is absent. Errors: ErrUnavailable.
	GetMany(ctx context.Context, gameIDs []string) (map[string]core.Record, error)
	// ListOperationsMany returns, per game id, what ListOperations(game,
	// limit) returns (newest first; a game without entries is absent).
	// Errors: ErrUnavailable.
	ListOperationsMany(ctx context.Context, gameIDs []string, limit int) (map[string][]core.OperationEntry, error)
}

// BatchCreator is an optional capability of a RecordStore: creating many
// records in one atomic statement (one commit). Each record has exactly
// the meaning of RecordStore.Create — written only when its game has no
// record — independently of the others; the batch only saves round trips
// and commits (docs/BENCHMARKS.md, P3). Lifecycle uses it when several
// starts write their reservations at the same moment.
type BatchCreator interface {
	// CreateMany does Create for every record and returns, in the order
	// of recs, each one's error: nil when it was created, ErrConflict when
	// its game already had a record (or an earlier record of the batch
	// named the same game), ErrInvalid when the record cannot be stored
	// (nothing of it is written). The second result is a failure of the
	// whole batch (nothing is written, or it committed without the answer
	// arriving): ErrUnavailable.
	CreateMany(ctx context.Context, recs []core.Record) ([]error, error)
}
