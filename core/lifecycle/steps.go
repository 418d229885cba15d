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

// storeErr translates a store error into a coded error.
func storeErr(what string, err error) error {
	switch {
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return core.Errorf(core.CodeServiceUnavailable, "%s: %v", what, err)
	case errors.Is(err, ports.ErrNotFound):
		return core.Errorf(core.CodeNotFound, "%s: %v", what, err)
	case errors.Is(err, ports.ErrConflict):
		return core.Errorf(core.CodeConflict, "%s: %v", what, err)
	}
	return core.Errorf(core.CodeInternal, "%s: %v", what, err)
}

// driverErr translates a driver error into a coded error; errors without a
// sentinel get otherwise.
func driverErr(call string, err error, otherwise core.Code) error {
	code := otherwise
	switch {
	case errors.Is(err, ports.ErrNotFound):
		code = core.CodeNotFound
	case errors.Is(err, ports.ErrImageUnavailable):
		code = core.CodeImageUnavailable
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = core.CodeServiceUnavailable
	case errors.Is(err, ports.ErrInvalid):
		code = core.CodeInvalidRequest
	case errors.Is(err, ports.ErrConflict):
		// e.g. a container of this name that another scope, game,
		// generation or image owns (ports.CheckOwner).
		code = core.CodeConflict
	}
	return core.Errorf(code, "driver %s: %v", call, err)
}

// load returns the game's record, and found=false when it has none.
func (b *base) load(ctx context.Context, game string) (rec core.Record, found bool, err error) {
	rec, err = b.Records.Get(ctx, game)
	switch {
	case err == nil:
		return rec, true, nil
	case errors.Is(err, ports.ErrNotFound):
		return core.Record{}, false, nil
	}
	return core.Record{}, false, storeErr("load runtime record", err)
}

// decide loads the record and applies the transition table for kind. It
// returns the record and a nil error only when the operation must proceed.
func (b *base) decide(ctx context.Context, kind core.OpKind, game, image string) (core.Record, error) {
	rec, found, err := b.load(ctx, game)
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
	err := b.Records.Swap(ctx, ports.ExpectOf(cur), next)
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

// publish emits a health event, best-effort.
func (b *base) publish(ctx context.Context, typ core.HealthEventType, rec core.Record, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	ev := core.HealthEvent{GameID: rec.GameID, ContainerID: rec.ContainerID, Type: typ,
		OccurredAt: b.Now().UTC(), Details: details}
	if err := b.Health.Publish(ctx, ev); err != nil {
		b.log.WarnContext(ctx, "publish health event", "game_id", rec.GameID, "event_type", typ, "err", err)
		return
	}
	b.Telemetry.HealthEvent(ctx, typ)
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
