package ports

import (
	"context"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

// Expect is the compare part of a compare-and-swap on a runtime record: the
// status, container id and generation the writer last read.
type Expect struct {
	Status      core.Status
	ContainerID string
	Generation  int64
}

// ExpectOf returns the Expect that matches r exactly.
func ExpectOf(r core.Record) Expect {
	return Expect{Status: r.Status, ContainerID: r.ContainerID, Generation: r.Generation}
}

// ExpectOfHead returns the Expect that matches the record h is the head of.
func ExpectOfHead(h core.RecordHead) Expect {
	return Expect{Status: h.Status, ContainerID: h.ContainerID, Generation: h.Generation}
}

// ListQuery selects runtime records in game_id order.
type ListQuery struct {
	// Status keeps only records in that status; empty keeps all.
	Status core.Status
	// After is a keyset cursor: only records with game_id > After.
	After string
	// Limit caps the page; 0 or less means the store's default of 100.
	Limit int
}

// RecordStore keeps the runtime records: one per game, the source of truth.
type RecordStore interface {
	// Get returns the record of gameID. Errors: ErrNotFound when there is
	// none, ErrUnavailable when the store cannot be reached.
	Get(ctx context.Context, gameID string) (core.Record, error)
	// Create inserts a new record. Errors: ErrConflict when a record for
	// the game exists already, ErrUnavailable.
	Create(ctx context.Context, rec core.Record) error
	// Swap replaces the record of next.GameID with next (all fields but
	// CreatedAt) in one atomic step, only if the stored record still has
	// expect's status, container id and generation. Errors: ErrNotFound when
	// there is no record, ErrConflict when it no longer matches expect,
	// ErrUnavailable.
	Swap(ctx context.Context, expect Expect, next core.Record) error
	// List returns up to q.Limit records with game_id > q.After in game_id
	// byte order (COLLATE "C" in PostgreSQL), and the cursor of the next
	// page: "" whenever no more records follow. Errors: ErrUnavailable.
	List(ctx context.Context, q ListQuery) (items []core.Record, next string, err error)
	// ListHeads is List reduced to each record's head: the same records
	// in the same order, the same default page and cursors, without
	// reading or decoding the rest of the record (the reconciler's
	// listing). A store may cap a page of heads higher than one of
	// records. Errors: ErrUnavailable.
	ListHeads(ctx context.Context, q ListQuery) (items []core.RecordHead, next string, err error)
	// CountByStatus returns how many records are in each status. Errors:
	// ErrUnavailable.
	CountByStatus(ctx context.Context) (map[core.Status]int, error)
	// Reserve writes a start's reservation next like Create (expect nil)
	// or Swap (expect set), but only while fewer than limit records of
	// other games are running or starting. The count and the write are one
	// atomic step for every writer of the store, on every instance; limit
	// 0 or less means no limit. Errors: ErrCapacity when the limit is
	// reached (nothing is written); otherwise those of Create or Swap.
	Reserve(ctx context.Context, expect *Expect, next core.Record, limit int) error
}

// OperationLog is the append-only audit of operation attempts.
type OperationLog interface {
	// AppendOperation stores e and returns its id. Errors: ErrUnavailable.
	AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error)
	// ListOperations returns up to limit entries of gameID, newest first
	// (by id); limit 0 or less means 50. No entries is an empty slice, not
	// an error. Errors: ErrUnavailable.
	ListOperations(ctx context.Context, gameID string, limit int) ([]core.OperationEntry, error)
}

// SwapAppender is an optional capability of a Store: a record
// compare-and-swap and the audit entry of the operation that made it,
// written together. Lifecycle uses it for an operation whose last step is
// a swap, saving a statement and a commit per operation (docs/BENCHMARKS.md,
// P2).
type SwapAppender interface {
	// SwapAppend does Swap(expect, next) and, only if it succeeds,
	// AppendOperation(e), as one atomic step. When the swap fails nothing
	// is written. Errors: those of Swap.
	SwapAppend(ctx context.Context, expect Expect, next core.Record, e core.OperationEntry) error
}

// SnapshotStore keeps the latest health snapshot of each game.
type SnapshotStore interface {
	// UpsertSnapshot stores s as the game's snapshot unless the stored one
	// is of a later event (LastEventAt), so a late event never replaces a
	// newer one. Errors: ErrUnavailable.
	UpsertSnapshot(ctx context.Context, s core.HealthSnapshot) error
	// GetSnapshot returns the game's snapshot. Errors: ErrNotFound,
	// ErrUnavailable.
	GetSnapshot(ctx context.Context, gameID string) (core.HealthSnapshot, error)
}

// Store is everything rtmanager keeps durably; the SQL adapter and the
// in-memory fake implement all of it.
type Store interface {
	RecordStore
	OperationLog
	SnapshotStore
	// Ping checks that the store is reachable. Errors: ErrUnavailable.
	Ping(ctx context.Context) error
}

// LeaseStore grants per-game leases that serialise lifecycle operations.
type LeaseStore interface {
	// TryAcquire takes the lease of gameID for token for ttl if nobody holds
	// it. It returns false (and no error) when another token holds it.
	// Errors: ErrUnavailable; ErrInvalid for a ttl of zero or less.
	TryAcquire(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error)
	// Renew extends the lease to ttl from now if token still holds it, and
	// returns false when it does not (expired or taken over). Errors:
	// ErrUnavailable.
	Renew(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error)
	// Release deletes the lease if token holds it; releasing a lease held by
	// another token, or by nobody, changes nothing and is not an error.
	// Errors: ErrUnavailable.
	Release(ctx context.Context, gameID, token string) error
}
