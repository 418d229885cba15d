package lifecycle

import (
	"context"
	"errors"
	"strconv"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// replay returns the replay_no_op "error" a step reports when the desired
// state already held.
func replay(format string, args ...any) error {
	return core.Errorf(core.CodeReplayNoOp, format, args...)
}

// storeErr translates a store error into a coded error (see portCodes).
func storeErr(what string, err error) error { return PortError(what, err) }

// driverErr translates a driver error into a coded error (see portCodes);
// errors without a sentinel get otherwise. A driver's ErrConflict is
// conflict: a container of this name that another scope, game, generation
// or image owns (ports.CheckOwner).
func driverErr(call string, err error, otherwise core.Code) error {
	return core.Errorf(PortCode(err, otherwise), "driver %s: %v", call, err)
}

// load returns the game's record, and found=false when it has none.
func (b *base) load(ctx context.Context, game string) (rec core.Record, found bool, err error) {
	if b.getRecord != nil {
		rec, err = b.getRecord(ctx, game)
	} else {
		rec, err = b.Records.Get(ctx, game)
	}
	switch {
	case err == nil:
		return rec, true, nil
	case errors.Is(err, ports.ErrNotFound):
		return core.Record{}, false, nil
	}
	return core.Record{}, false, storeErr("load runtime record", err)
}

// decide loads the record and applies the transition table for o's kind.
// It returns the record and a nil error only when the operation must
// proceed. A stream job older than one already decided for the game is
// refused here, under the lease (see superseded).
func (b *base) decide(ctx context.Context, o *op, image string) (core.Record, error) {
	kind, game := o.entry.OpKind, o.entry.GameID
	rec, found, err := b.loadOrdered(ctx, o)
	if err != nil {
		return rec, err
	}
	var from core.Status
	if found {
		from = rec.Status
	}
	switch core.Decide(kind, from, image != "" && image == rec.ImageRef) {
	case core.Missing:
		return rec, core.Errorf(core.CodeNotFound, "game %q has no runtime", game)
	case core.Replay:
		return rec, replay("runtime of game %q is already %s", game, rec.Status)
	case core.Refuse:
		return rec, core.Errorf(core.CodeConflict, "cannot %s game %q: its runtime is %s on image %q", kind, game, from, rec.ImageRef)
	}
	return rec, nil
}

// swap writes next if the stored record still equals cur. Losing the CAS
// means another path moved the record: it is a replay when that path reached
// the state kind wants, and a conflict otherwise.
func (b *base) swap(ctx context.Context, kind core.OpKind, cur, next core.Record) (core.Record, error) {
	return b.swapped(ctx, kind, cur, next, b.Records.Swap(ctx, ports.ExpectOf(cur), next))
}

// lastSwap is a compare-and-swap an operation's body left to finish.
type lastSwap struct {
	// ctx is the body's context: the write is bounded by it, and by the
	// lease it runs under, as if the body had made it.
	ctx       context.Context //nolint:containedctx // the body's context, used by finish
	cur, next core.Record
	// failed settles a swap that was not written; nil means swapped's
	// rule (replay or conflict).
	failed func(err error) (core.Record, error)
	// event, when set, is published once the swap (and its entry) is
	// written; a store that is a ports.SwapSnapshotter writes its snapshot
	// in the same statement as the swap (see commitLast).
	event *core.HealthEvent
}

// swapLast is swap for the last step of o's body (see deferSwap).
func (b *base) swapLast(ctx context.Context, o *op, cur, next core.Record) (core.Record, error) {
	return b.deferSwap(o, &lastSwap{ctx: ctx, cur: cur, next: next})
}

// deferSwap makes p, the last step of o's body. When the store writes a
// record and its audit entry together (ports.SwapAppender), the swap is
// left to o.finish, which writes both in one statement: one round trip and
// one commit fewer per operation. Otherwise the swap is made now. Either
// way the write is a compare-and-swap on p.cur, settled by p.settle.
func (b *base) deferSwap(o *op, p *lastSwap) (core.Record, error) {
	if _, ok := b.Records.(ports.SwapAppender); !ok {
		return p.settle(o, b.Records.Swap(p.ctx, ports.ExpectOf(p.cur), p.next), false)
	}
	o.last = p
	return p.next, nil
}

// settle returns the outcome of o's swap p, whose error was err; snapped
// says the swap wrote p.event's snapshot too.
func (p *lastSwap) settle(o *op, err error, snapped bool) (core.Record, error) {
	switch {
	case err == nil:
		if p.event != nil {
			o.publish(p.ctx, *p.event, !snapped)
		}
		return p.next, nil
	case p.failed != nil:
		return p.failed(err)
	}
	return o.b.swapped(p.ctx, o.entry.OpKind, p.cur, p.next, err)
}

// commitLast makes o's last swap together with its success entry. It
// returns the record, whether the entry was written (only if the swap
// was), and the outcome.
func (o *op) commitLast() (core.Record, bool, error) {
	b, p := o.b, o.last
	o.last = nil
	o.settle(p.next, nil)
	swapAppend := func() error {
		return b.Records.(ports.SwapAppender).SwapAppend(p.ctx, ports.ExpectOf(p.cur), p.next, o.entry)
	}
	var err error
	snapped := false
	if ss, ok := b.Records.(ports.SwapSnapshotter); ok && p.event != nil {
		// The event's snapshot joins the statement (no round trip of
		// its own); one the store cannot keep wrote nothing, and the
		// swap goes alone.
		item := ports.SwapSnapshot{Expect: ports.ExpectOf(p.cur), Next: p.next, Entry: o.entry, Snapshot: p.event.Snapshot()}
		if b.swapSnap != nil {
			err = b.swapSnap(p.ctx, item)
		} else {
			err = ss.SwapAppendSnapshot(p.ctx, item.Expect, item.Next, item.Entry, item.Snapshot)
		}
		snapped = err == nil
		if errors.Is(err, ports.ErrInvalid) {
			err = swapAppend()
		}
	} else {
		err = swapAppend()
	}
	rec, serr := p.settle(o, err, snapped)
	return rec, err == nil, leaseCause(p.ctx, serr)
}

// swapped settles the outcome err of a compare-and-swap from cur to next
// (see swap).
func (b *base) swapped(ctx context.Context, kind core.OpKind, cur, next core.Record, err error) (core.Record, error) {
	if err == nil {
		return next, nil
	}
	if !errors.Is(err, ports.ErrConflict) && !errors.Is(err, ports.ErrNotFound) {
		return cur, storeErr("update runtime record", err)
	}
	now, found, lerr := b.load(ctx, cur.GameID)
	if lerr != nil {
		return cur, lerr
	}
	if found && now.Status == core.Target(kind) && (kind != core.OpStart || now.ImageRef == next.ImageRef) {
		return now, replay("another operation already moved game %q to %s", cur.GameID, now.Status)
	}
	return now, core.Errorf(core.CodeConflict, "runtime of game %q changed during %s", cur.GameID, kind)
}

// publish emits a health event and upserts the game's health snapshot
// from it. Both are best-effort and independent: a failed stream append
// still updates the snapshot, a failed upsert still leaves the event.
func (b *base) publish(ctx context.Context, typ core.HealthEventType, rec core.Record, details map[string]any) {
	b.publishEvent(ctx, b.event(typ, rec, details), true)
}

// event returns the health event typ of rec, occurring now.
func (b *base) event(typ core.HealthEventType, rec core.Record, details map[string]any) core.HealthEvent {
	if details == nil {
		details = map[string]any{}
	}
	return core.HealthEvent{GameID: rec.GameID, ContainerID: rec.ContainerID, Type: typ,
		OccurredAt: b.Now().UTC(), Details: details}
}

// publishEvent is publish of ev; snapshot false leaves out the upsert (the
// caller wrote the snapshot already).
func (b *base) publishEvent(ctx context.Context, ev core.HealthEvent, snapshot bool) {
	b.published(ctx, ev, b.Health.Publish(ctx, ev))
	if snapshot {
		b.upsertSnapshot(ctx, ev)
	}
}

// published logs a failed publish of ev, or counts a successful one.
func (b *base) published(ctx context.Context, ev core.HealthEvent, err error) {
	if err != nil {
		b.log.WarnContext(ctx, "publish health event", "game_id", ev.GameID, "event_type", ev.Type, "err", err)
		return
	}
	b.Telemetry.HealthEvent(ctx, ev.Type)
}

// upsertSnapshot upserts ev's snapshot, best-effort.
func (b *base) upsertSnapshot(ctx context.Context, ev core.HealthEvent) {
	if err := b.Snapshots.UpsertSnapshot(ctx, ev.Snapshot()); err != nil {
		b.log.WarnContext(ctx, "upsert health snapshot", "game_id", ev.GameID, "event_type", ev.Type, "err", err)
	}
}

// publish is publishEvent for an event of o. An operation under its own
// lease whose health stream can publish and release together
// (ports.PublishReleaser) upserts the snapshot now and leaves the event to
// underLease, which sends it just ahead of the lease release in the same
// round trip; the event still lands before the operation returns and
// before the next holder of the lease can act.
func (o *op) publish(ctx context.Context, ev core.HealthEvent, snapshot bool) {
	if _, ok := o.b.Health.(ports.PublishReleaser); !ok || !o.leased || o.held != nil {
		o.b.publishEvent(ctx, ev, snapshot)
		return
	}
	if snapshot {
		o.b.upsertSnapshot(ctx, ev)
	}
	o.held = &ev
}

// vanished handles a running record whose container the driver no longer
// knows: the record moves to removed and container_disappeared is published.
func (b *base) vanished(ctx context.Context, kind core.OpKind, cur core.Record) (core.Record, error) {
	next, err := b.swap(ctx, kind, cur, cur.Removed(b.Now().UTC()))
	if err != nil {
		return next, err
	}
	b.publish(ctx, core.EventContainerDisappeared, cur, nil)
	return next, nil
}

// labels returns Labels plus the instance's scope.
func (b *base) labels(game string, generation int64, image string) map[string]string {
	l := Labels(game, generation, image)
	l[ports.LabelScope] = b.Config.Scope
	return l
}

// inScope reports whether c belongs to this instance's deployment scope.
func (b *base) inScope(c ports.Container) bool {
	return ports.ScopeOf(c.Labels) == b.Config.Scope
}

// listScoped lists the containers with labels that are in scope.
func (b *base) listScoped(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	all, err := b.Driver.List(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if b.inScope(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Labels returns the SPEC labels of a game's container of one generation.
func Labels(game string, generation int64, image string) map[string]string {
	return map[string]string{
		ports.LabelManaged:    "true",
		ports.LabelGameID:     game,
		ports.LabelGeneration: strconv.FormatInt(generation, 10),
		ports.LabelImageRef:   image,
	}
}
