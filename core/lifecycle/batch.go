package lifecycle

import (
	"context"
	"errors"
	"fmt"
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
//
// The reads an operation makes under its lease — the record, and a stream
// job's look at the game's newest audit entries — are batched the same way
// when the store has ports.BatchReader: a batched read runs after every
// caller in it asked (each under its own lease), so each sees what a read
// of its own would. getRecord is nil when records are read one by one.
func batched(deps Deps) (_ Deps, getRecord func(context.Context, string) (core.Record, error)) {
	if deps.Config.Unbatched {
		return deps, nil
	}
	if lb, ok := deps.Leases.(ports.LeaseBatcher); ok {
		deps.Leases = newBatchedLeases(deps.Leases, lb)
	}
	deps.Operations = newBatchedLog(deps.Operations)
	if br, ok := deps.Records.(ports.BatchReader); ok {
		getRecord = newBatchedGet(deps.Records, br)
	}
	return deps, getRecord
}

// newBatchedGet returns RecordStore.Get through GetMany.
func newBatchedGet(rs ports.RecordStore, br ports.BatchReader) func(context.Context, string) (core.Record, error) {
	c := &ports.Coalescer[string, gotRecord]{Max: maxBatch, Timeout: cleanupTimeout,
		Flush: func(ctx context.Context, games []string) ([]gotRecord, error) {
			out := make([]gotRecord, len(games))
			if len(games) == 1 {
				out[0].rec, out[0].err = rs.Get(ctx, games[0])
				return out, nil
			}
			recs, err := br.GetMany(ctx, games)
			if err != nil {
				return nil, err
			}
			for i, g := range games {
				rec, ok := recs[g]
				if !ok {
					out[i].err = fmt.Errorf("runtime record of %q: %w", g, ports.ErrNotFound)
				}
				out[i].rec = rec
			}
			return out, nil
		}}
	return func(ctx context.Context, game string) (core.Record, error) {
		r, err := c.Do(ctx, game)
		if err != nil {
			return core.Record{}, err
		}
		return r.rec, r.err
	}
}

// gotRecord is the answer to one batched Get.
type gotRecord struct {
	rec core.Record
	err error
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

// batchedLog coalesces AppendOperation into AppendOperations. When the
// store refuses a batch of several entries, each entry is appended on its
// own, so one entry the store refuses costs no other operation its audit
// entry, and each caller gets its own entry's error. When the store is
// unavailable every caller gets that error (and logs it, as a failed
// single append is logged): the batch may have committed unseen, and
// appending again could write an attempt's entry twice.
type batchedLog struct {
	ports.OperationLog
	appendOp ports.Coalescer[core.OperationEntry, appended]
	// list batches ListOperations when the log has ports.BatchReader.
	list *ports.Coalescer[listQuery, listed]
}

// listQuery is one batched ListOperations.
type listQuery struct {
	game  string
	limit int
}

// listed is the answer to one batched ListOperations.
type listed struct {
	entries []core.OperationEntry
	err     error
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
				ids, err := ol.AppendOperations(ctx, es)
				switch {
				case err == nil:
					for i, id := range ids {
						out[i].id = id
					}
					return out, nil
				case errors.Is(err, ports.ErrUnavailable):
					// The batch may have committed without the answer
					// arriving: appending again could write entries twice.
					return nil, err
				}
			}
			for i, e := range es {
				out[i].id, out[i].err = ol.AppendOperation(ctx, e)
			}
			return out, nil
		}}
	if br, ok := ol.(ports.BatchReader); ok {
		l.list = &ports.Coalescer[listQuery, listed]{Max: maxBatch, Timeout: cleanupTimeout,
			Flush: func(ctx context.Context, qs []listQuery) ([]listed, error) {
				return listMany(ctx, ol, br, qs)
			}}
	}
	return l
}

// listMany answers qs with one ListOperationsMany when they share a limit
// (lifecycle always asks for orderWindow), one by one otherwise.
func listMany(ctx context.Context, ol ports.OperationLog, br ports.BatchReader, qs []listQuery) ([]listed, error) {
	out := make([]listed, len(qs))
	same := true
	for _, q := range qs {
		same = same && q.limit == qs[0].limit
	}
	if len(qs) == 1 || !same {
		for i, q := range qs {
			out[i].entries, out[i].err = ol.ListOperations(ctx, q.game, q.limit)
		}
		return out, nil
	}
	games := make([]string, len(qs))
	for i, q := range qs {
		games[i] = q.game
	}
	got, err := br.ListOperationsMany(ctx, games, qs[0].limit)
	if err != nil {
		return nil, err
	}
	for i, q := range qs {
		out[i].entries = got[q.game]
		if out[i].entries == nil {
			out[i].entries = []core.OperationEntry{}
		}
	}
	return out, nil
}

// ListOperations implements ports.OperationLog through the batch when the
// log can batch reads.
func (l *batchedLog) ListOperations(ctx context.Context, game string, limit int) ([]core.OperationEntry, error) {
	if l.list == nil {
		return l.OperationLog.ListOperations(ctx, game, limit)
	}
	r, err := l.list.Do(ctx, listQuery{game: game, limit: limit})
	if err != nil {
		return nil, err
	}
	return r.entries, r.err
}

// AppendOperation implements ports.OperationLog through the batch.
func (l *batchedLog) AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error) {
	r, err := l.appendOp.Do(ctx, e)
	if err != nil {
		return 0, err
	}
	return r.id, r.err
}
