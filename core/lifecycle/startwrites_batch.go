package lifecycle

import (
	"context"
	"errors"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// batchedCreate returns RecordStore.Create through ports.BatchCreator, so
// the reservations of starts that write them at the same moment share one
// statement and one commit (ports.Coalescer; a reservation made alone is
// the single Create it was). Each start still holds its game's lease and
// gets its own record's answer — created, ErrConflict, ErrInvalid — so the
// transition it makes is the one of the single call. A batch that fails as
// a whole (ErrUnavailable: it may have committed without the answer
// arriving) fails every caller, as a lost answer to a single Create does;
// a later attempt finds the reservation and settles it. Nil when the store
// cannot batch, or with Config.Unbatched or Config.SingleCreates.
func batchedCreate(deps Deps) func(context.Context, core.Record) error {
	bc, ok := deps.Records.(ports.BatchCreator)
	if !ok || deps.Config.Unbatched || deps.Config.SingleCreates {
		return nil
	}
	rs := deps.Records
	c := &ports.Coalescer[core.Record, error]{Max: maxBatch, Timeout: cleanupTimeout,
		Flush: func(ctx context.Context, recs []core.Record) ([]error, error) {
			if len(recs) == 1 {
				return []error{rs.Create(ctx, recs[0])}, nil
			}
			errs, err := bc.CreateMany(ctx, recs)
			if err == nil && len(errs) != len(recs) {
				err = errors.New("record store answered a batch of creates with the wrong count")
			}
			return errs, err
		}}
	return func(ctx context.Context, rec core.Record) error {
		created, err := c.Do(ctx, rec)
		if err != nil {
			return err
		}
		return created
	}
}

// create writes a new record, through the create batch when there is one.
func (b *base) create(ctx context.Context, rec core.Record) error {
	if b.createRecord != nil {
		return b.createRecord(ctx, rec)
	}
	return b.Records.Create(ctx, rec)
}

// batchedSwapSnap returns SwapSnapshotter.SwapAppendSnapshot through
// ports.BatchSwapSnapshotter, so the running writes of starts finishing at
// the same moment share one round trip and one commit (ports.Coalescer; a
// write made alone is the single call it was). Each item keeps its own
// compare-and-swap and gets its own answer. A batch the store refuses as a
// whole wrote nothing, and each item goes alone; when the store is
// unavailable every caller gets that error (the batch may have committed
// unseen, as a single call's may). Nil unless Config.BatchRunningWrites is
// set (measured and dropped: see there), the store can batch and
// Config.Unbatched is not set.
func batchedSwapSnap(deps Deps) func(context.Context, ports.SwapSnapshot) error {
	ss, okSS := deps.Records.(ports.SwapSnapshotter)
	bs, okBS := deps.Records.(ports.BatchSwapSnapshotter)
	if !okSS || !okBS || deps.Config.Unbatched || !deps.Config.BatchRunningWrites {
		return nil
	}
	one := func(ctx context.Context, it ports.SwapSnapshot) error {
		return ss.SwapAppendSnapshot(ctx, it.Expect, it.Next, it.Entry, it.Snapshot)
	}
	c := &ports.Coalescer[ports.SwapSnapshot, error]{Max: maxBatch, Timeout: cleanupTimeout,
		Flush: func(ctx context.Context, items []ports.SwapSnapshot) ([]error, error) {
			if len(items) == 1 {
				return []error{one(ctx, items[0])}, nil
			}
			errs, err := bs.SwapAppendSnapshotMany(ctx, items)
			switch {
			case err == nil && len(errs) == len(items):
				return errs, nil
			case errors.Is(err, ports.ErrUnavailable):
				return nil, err
			}
			errs = make([]error, len(items))
			for i, it := range items {
				errs[i] = one(ctx, it)
			}
			return errs, nil
		}}
	return func(ctx context.Context, it ports.SwapSnapshot) error {
		swapped, err := c.Do(ctx, it)
		if err != nil {
			return err
		}
		return swapped
	}
}
