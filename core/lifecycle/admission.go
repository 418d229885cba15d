package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// DefaultMaxInflight is the default of Config.MaxInflight
// (RTMANAGER_MAX_INFLIGHT).
const DefaultMaxInflight = 64

// admission holds the capacity limits of SPEC §10: how many operations one
// instance runs at once, and how many runtimes may be running or starting.
type admission struct {
	// slots has one buffered element per operation in flight.
	slots chan struct{}
	// maxRuntimes is the running + starting ceiling; 0 means none.
	maxRuntimes int
}

func newAdmission(c Config) (*admission, error) {
	if c.MaxInflight < 0 || c.MaxRuntimes < 0 {
		return nil, fmt.Errorf("lifecycle: negative MaxInflight %d or MaxRuntimes %d", c.MaxInflight, c.MaxRuntimes)
	}
	n := c.MaxInflight
	if n == 0 {
		n = DefaultMaxInflight
	}
	return &admission{slots: make(chan struct{}, n), maxRuntimes: c.MaxRuntimes}, nil
}

// capacityErr is capacity_exceeded, marked busy: the operation did not
// run, and retrying later may succeed (the stream ingress retries it like a
// held lease, REST answers 429 with Retry-After).
func capacityErr(format string, args ...any) error {
	return busyError{core.Errorf(core.CodeCapacityExceeded, format, args...)}
}

// inSlot runs the body of a Handle, which already holds the game's lease,
// in one of the instance's in-flight slots, or answers capacity_exceeded
// at once when none is free. The slot is taken after the lease so callers
// racing for one game meet the cheap lease conflict first; Run (inside
// restart and patch) and background repairs (quiet) take no slot.
func (b *base) inSlot(ctx context.Context, o *op, quiet bool, body step) (core.Record, error) {
	if quiet {
		return body(ctx, o)
	}
	select {
	case b.admit.slots <- struct{}{}:
		defer func() { <-b.admit.slots }()
		return body(ctx, o)
	default:
		return core.Record{}, capacityErr("%d operations are in flight on this instance (RTMANAGER_MAX_INFLIGHT)", cap(b.admit.slots))
	}
}

// checkRuntimes returns capacity_exceeded when a start that adds a runtime
// (cur is not already running or starting) would exceed MaxRuntimes.
func (b *base) checkRuntimes(ctx context.Context, cur core.Record) error {
	max := b.admit.maxRuntimes
	if max == 0 || cur.Status == core.StatusRunning || cur.Status == core.StatusStarting {
		return nil
	}
	counts, err := b.Records.CountByStatus(ctx)
	if err != nil {
		return storeErr("count runtimes", err)
	}
	if n := counts[core.StatusRunning] + counts[core.StatusStarting]; n >= max {
		return capacityErr("%d runtimes are running or starting; at most %d are allowed (RTMANAGER_MAX_RUNTIMES)", n, max)
	}
	return nil
}

// reserve writes a start's reservation resv: it creates the record (found
// false) or swaps cur to resv. With a runtime ceiling the store checks it
// and writes in one atomic step (RecordStore.Reserve), so starts on all
// instances together never exceed it.
func (b *base) reserve(ctx context.Context, cur core.Record, found bool, resv core.Record) (core.Record, error) {
	if b.admit.maxRuntimes == 0 {
		if !found {
			if err := b.create(ctx, resv); err != nil {
				return core.Record{}, storeErr("create runtime record", err)
			}
			return resv, nil
		}
		return b.swap(ctx, core.OpStart, cur, resv)
	}
	var expect *ports.Expect
	if found {
		e := ports.ExpectOf(cur)
		expect = &e
	}
	err := b.Records.Reserve(ctx, expect, resv, b.admit.maxRuntimes)
	switch {
	case errors.Is(err, ports.ErrCapacity):
		return cur, capacityErr("at most %d runtimes may run or start at once (RTMANAGER_MAX_RUNTIMES)", b.admit.maxRuntimes)
	case !found && err != nil:
		return core.Record{}, storeErr("create runtime record", err)
	case !found:
		return resv, nil
	}
	return b.swapped(ctx, core.OpStart, cur, resv, err)
}

// adoptedMeanwhile reports whether, after launch lost its CAS to running,
// the record already runs container id (the reconciler adopted it). The
// re-check runs on a context detached from ctx's cancellation (bounded by
// cleanupTimeout): a request cancelled at this moment must not make launch
// believe nobody runs the container and remove a live engine.
func (b *base) adoptedMeanwhile(ctx context.Context, game, id string) (core.Record, bool) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	now, found, err := b.load(cctx, game)
	if err != nil {
		b.log.WarnContext(ctx, "re-read record after a lost swap", "game_id", game, "err", err)
		return now, false
	}
	return now, found && now.Status == core.StatusRunning && now.ContainerID == id
}
