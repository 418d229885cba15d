package lifecycle

import (
	"context"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// maxBatch caps how many lease claims or audit entries go in one round
// trip.
const maxBatch = 256

// batched wraps deps' lease store and operation log so that calls made at
// the same moment by concurrent operations — lease acquisitions, lease
// releases, audit appends — share one round trip (ports.Coalescer; a call
// made alone stays the single call it was). Every call keeps its meaning
// and its place in its operation: an operation still holds its lease
// before its body runs and has its audit entry written before its lease is
// released, so the per-game guarantees (one holder, the outcome visible to
// the next holder) are the ones of the single calls. Config.Unbatched
// keeps the single calls (the design before issue 17, for side-by-side
// measurements).
func batched(deps Deps) Deps {
	if deps.Config.Unbatched {
		return deps
	}
	if lb, ok := deps.Leases.(ports.LeaseBatcher); ok {
		deps.Leases = newBatchedLeases(deps.Leases, lb)
	}
	deps.Operations = newBatchedLog(deps.Operations)
	return deps
}

// batchedLeases coalesces TryAcquire and Release; Renew runs on its own
// ticker per operation and stays a single call.
type batchedLeases struct {
	ports.LeaseStore
	acquire ports.Coalescer[ports.LeaseClaim, bool]
	release ports.Coalescer[ports.LeaseClaim, struct{}]
}

func newBatchedLeases(ls ports.LeaseStore, lb ports.LeaseBatcher) *batchedLeases {
	l := &batchedLeases{LeaseStore: ls}
	l.acquire = ports.Coalescer[ports.LeaseClaim, bool]{Max: maxBatch, Timeout: cleanupTimeout,
		Flush: func(ctx context.Context, cs []ports.LeaseClaim) ([]bool, error) {
			if len(cs) == 1 {
				ok, err := ls.TryAcquire(ctx, cs[0].GameID, cs[0].Token, cs[0].TTL)
				return []bool{ok}, err
			}
			return lb.TryAcquireMany(ctx, cs)
		}}
	l.release = ports.Coalescer[ports.LeaseClaim, struct{}]{Max: maxBatch, Timeout: cleanupTimeout,
		Flush: func(ctx context.Context, cs []ports.LeaseClaim) ([]struct{}, error) {
			var err error
			if len(cs) == 1 {
				err = ls.Release(ctx, cs[0].GameID, cs[0].Token)
			} else {
				err = lb.ReleaseMany(ctx, cs)
			}
			return make([]struct{}, len(cs)), err
		}}
	return l
}

// TryAcquire implements ports.LeaseStore through the batch.
func (l *batchedLeases) TryAcquire(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error) {
	return l.acquire.Do(ctx, ports.LeaseClaim{GameID: gameID, Token: token, TTL: ttl})
}

// Release implements ports.LeaseStore through the batch.
func (l *batchedLeases) Release(ctx context.Context, gameID, token string) error {
	_, err := l.release.Do(ctx, ports.LeaseClaim{GameID: gameID, Token: token})
	return err
}

// batchedLog coalesces AppendOperation into AppendOperations. When a batch
// of several entries fails, each entry is appended on its own, so one
// entry the store refuses costs no other operation its audit entry, and
// each caller gets its own entry's error.
type batchedLog struct {
	ports.OperationLog
	appendOp ports.Coalescer[core.OperationEntry, appended]
}

// appended is the outcome of one coalesced append.
type appended struct {
	id  int64
	err error
}

func newBatchedLog(ol ports.OperationLog) *batchedLog {
	l := &batchedLog{OperationLog: ol}
	l.appendOp = ports.Coalescer[core.OperationEntry, appended]{Max: maxBatch, Timeout: cleanupTimeout,
		Flush: func(ctx context.Context, es []core.OperationEntry) ([]appended, error) {
			out := make([]appended, len(es))
			if len(es) > 1 {
				if ids, err := ol.AppendOperations(ctx, es); err == nil {
					for i, id := range ids {
						out[i].id = id
					}
					return out, nil
				}
			}
			for i, e := range es {
				out[i].id, out[i].err = ol.AppendOperation(ctx, e)
			}
			return out, nil
		}}
	return l
}

// AppendOperation implements ports.OperationLog through the batch.
func (l *batchedLog) AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error) {
	r, err := l.appendOp.Do(ctx, e)
	if err != nil {
		return 0, err
	}
	return r.id, r.err
}
