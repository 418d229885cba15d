package lifecycle

import (
	"context"
	"errors"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// errLeaseLost is the cancellation cause of an operation whose lease could
// not be renewed.
var errLeaseLost = errors.New("the game's lease was lost while the operation ran")

// errLeaseUnreachable is the cancellation cause of an operation whose lease
// could not be renewed because the lease store did not answer.
var errLeaseUnreachable = errors.New("the lease store stopped answering while the operation ran")

// busyError is the conflict of an operation that found the game's lease
// held by another operation. Result.Busy reports it, so callers such as the
// stream ingress can retry it, unlike a conflict of the transition table.
type busyError struct{ err *core.Error }

func (e busyError) Error() string { return e.err.Error() }
func (e busyError) Unwrap() error { return e.err }

// underLease runs fn while holding the game of o's lease and hands its
// outcome to o.finish before the lease is released, so the next holder
// sees the outcome recorded. The lease is renewed every third of its TTL;
// if renewal fails for longer than the TTL or another holder took it, fn's
// context is cancelled. The lease is released with a fresh bounded context
// so a cancelled request cannot pin it, together with the health event o
// held back (see op.publish). Without the lease, o.finish gets the failure
// to take it.
func (b *base) underLease(ctx context.Context, o *op, fn func(context.Context) (core.Record, error)) Result {
	game, finish := o.entry.GameID, o.finish
	token, err := b.NewToken()
	if err != nil {
		return finish(ctx, core.Record{}, core.Errorf(core.CodeInternal, "lease token: %v", err))
	}
	began := time.Now()
	ok, err := b.Leases.TryAcquire(ctx, game, token, b.Config.LeaseTTL)
	b.Telemetry.LeaseAcquire(ctx, time.Since(began))
	if err != nil {
		return finish(ctx, core.Record{}, core.Errorf(core.CodeServiceUnavailable, "acquire lease: %v", err))
	}
	if !ok {
		return finish(ctx, core.Record{}, busyError{core.Errorf(core.CodeConflict, "another operation is in progress for game %q", game)})
	}
	opCtx, cancel := context.WithCancelCause(ctx)
	// Renewal starts a third of the TTL in, on a timer rather than a
	// goroutine per operation: most operations end long before.
	renewing := make(chan struct{})
	renew := time.AfterFunc(b.Config.LeaseTTL/3, func() {
		defer close(renewing)
		b.keepRenewed(opCtx, game, token, began, cancel)
	})
	defer func() {
		cancel(nil)
		if !renew.Stop() {
			<-renewing // renewal began: it ends now that opCtx is done
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer rcancel()
		b.releaseLease(rctx, game, token, o.held)
	}()
	rec, err := fn(opCtx)
	return finish(ctx, rec, leaseCause(opCtx, err))
}

// releaseLease releases the game's lease held with token, sending ev (when
// set) just ahead of it: in the same round trip when the health stream can
// (ports.PublishReleaser), otherwise as a publish of its own. ctx is the
// release's bounded context.
func (b *base) releaseLease(ctx context.Context, game, token string, ev *core.HealthEvent) {
	if ev != nil {
		pr, _ := b.Health.(ports.PublishReleaser) // op.publish holds events only then
		if handled, perr, rerr := pr.PublishRelease(ctx, *ev, b.plainLeases, game, token); handled {
			b.published(ctx, *ev, perr)
			if rerr != nil {
				b.log.WarnContext(ctx, "release lease", "game_id", game, "err", rerr)
			}
			return
		}
		b.published(ctx, *ev, b.Health.Publish(ctx, *ev))
	}
	if err := b.Leases.Release(ctx, game, token); err != nil {
		b.log.WarnContext(ctx, "release lease", "game_id", game, "err", err)
	}
}

// leaseCause returns err explained by the lease when ctx (an operation's
// context under underLease) was cancelled because the lease was lost or
// could not be renewed; otherwise err.
func leaseCause(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errLeaseLost):
		return core.Errorf(core.CodeConflict, "%v: %v", cause, core.MessageOf(err))
	case errors.Is(cause, errLeaseUnreachable):
		return core.Errorf(core.CodeServiceUnavailable, "%v: %v", cause, core.MessageOf(err))
	}
	return err
}

// keepRenewed renews the lease now and then every third of its TTL until
// ctx ends; underLease calls it a third of the TTL after acquiring. It
// cancels ctx with errLeaseLost when another holder has the lease, or when
// renewals have failed for half the TTL or more — in practice at the second
// failed renewal, two thirds in, before the lease can expire and be taken
// while this operation still runs. (Half, not two thirds: renewals land
// near multiples of a third, and a threshold between them does not depend
// on scheduling jitter.)
//
// The lease is known to last ttl from when a successful call was sent, not
// from when its answer arrived (the store may have applied it at once and
// the answer been slow), so lastOK is taken before each call, starting
// with the acquisition at acquired.
func (b *base) keepRenewed(ctx context.Context, game, token string, acquired time.Time, cancel context.CancelCauseFunc) {
	ttl := b.Config.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	lastOK := acquired
	for {
		if ctx.Err() != nil {
			return
		}
		sent := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, ttl/3)
		held, err := b.Leases.Renew(rctx, game, token, ttl)
		rcancel()
		switch {
		case err == nil && held:
			lastOK = sent
		case err == nil && !held:
			b.log.ErrorContext(ctx, "lease taken over; cancelling operation", "game_id", game)
			cancel(errLeaseLost)
			return
		case ctx.Err() != nil:
			return
		default:
			b.log.WarnContext(ctx, "renew lease", "game_id", game, "err", err)
			if time.Since(lastOK) >= ttl/2 {
				cancel(errLeaseUnreachable)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
