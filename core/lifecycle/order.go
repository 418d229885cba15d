package lifecycle

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
)

// orderWindow is how many of a game's newest operation-log entries a stream
// job is compared with.
const orderWindow = 50

// superseded refuses a stream job (o.seq set) when a newer stream job of
// the same game was already decided: applying it would undo what that job
// did (a start redelivered after the game's later stop, or overtaken by it
// on another instance). It runs under the game's lease, and outcomes are
// recorded before the lease is released, so a newer job that finished is
// always visible here. A newer job that met an outage or an internal error
// decided nothing and does not count. When the operation log cannot be
// read the job is applied (the log is best-effort, see SPEC).
func (b *base) superseded(ctx context.Context, o *op) error {
	if !b.ordered(o) {
		return nil
	}
	game := o.entry.GameID
	entries, err := b.Operations.ListOperations(ctx, game, orderWindow)
	if err != nil {
		b.log.WarnContext(ctx, "read operation log to order a stream job; applying it", "game_id", game,
			"source_ref", o.entry.SourceRef, "err", err)
		return nil
	}
	for _, e := range entries {
		if e.OpSource != core.SourceStream || (e.OpKind != core.OpStart && e.OpKind != core.OpStop) ||
			e.ErrorCode == core.CodeServiceUnavailable || e.ErrorCode == core.CodeInternal {
			continue
		}
		if seq, err := core.ParseJobSeq(e.SourceRef); err == nil && core.JobNewer(seq, e.OpKind, o.seq, o.entry.OpKind) {
			b.log.InfoContext(ctx, "superseded stream job not applied", "game_id", game,
				"source_ref", o.entry.SourceRef, "newer_job", e.SourceRef)
			return core.Errorf(core.CodeConflict,
				"stream job %s is not applied: the newer stream job %s of game %q was already handled",
				o.entry.SourceRef, e.SourceRef, game)
		}
	}
	return nil
}

// loadOrdered loads o's record and, for a stream job, checks that no newer
// stream job of the game was decided (superseded). Both reads run under
// o's lease and neither depends on the other, so they run at once: a
// stream job waits for one read round trip instead of two. A failed record
// read wins over the order check's refusal, as when they ran in turn.
// Config.SerialReads runs them one after the other (for measurements).
func (b *base) loadOrdered(ctx context.Context, o *op) (core.Record, bool, error) {
	game := o.entry.GameID
	if !b.ordered(o) || b.Config.SerialReads {
		rec, found, err := b.load(ctx, game)
		if err != nil {
			return rec, found, err
		}
		return rec, found, b.superseded(ctx, o)
	}
	order := make(chan error, 1)
	go func() { order <- b.superseded(ctx, o) }()
	rec, found, err := b.load(ctx, game)
	orderErr := <-order
	if err != nil {
		return rec, found, err
	}
	return rec, found, orderErr
}

// ordered says whether o is a stream job that superseded checks.
func (b *base) ordered(o *op) bool {
	return !o.seq.IsZero() && o.entry.OpSource == core.SourceStream
}
