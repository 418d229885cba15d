package lifecycle

import (
	"context"
	"errors"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// StopInput are the arguments of one stop.
type StopInput struct {
	GameID string
	Reason core.StopReason
	Meta
}

func (in StopInput) validate() error {
	if err := core.ValidateGameID(in.GameID); err != nil {
		return err
	}
	_, err := core.ParseStopReason(string(in.Reason))
	return err
}

// Stopper stops a game's engine gracefully (Handle under the game's lease,
// Run for a caller that holds it): SIGTERM, then SIGKILL after the stop
// timeout, then the record moves running → stopped. Outcomes: success;
// replay_no_op when it is already stopped or removed; success with the
// record removed and a container_disappeared event when the container had
// vanished; success with the record removed when it finds the reservation
// of a start that died (its leftovers are removed); not_found without a
// record; conflict when the lease is held or a newer stream job of the
// game was already handled; service_unavailable; invalid_request.
type Stopper struct{ service[StopInput] }

func (s *Stopper) spec(in StopInput) operation {
	return operation{kind: core.OpStop, game: in.GameID, meta: in.Meta, validate: in.validate,
		body: func(ctx context.Context, o *op) (core.Record, error) { return s.run(ctx, o, in) }}
}

func (s *Stopper) run(ctx context.Context, o *op, in StopInput) (core.Record, error) {
	b := s.b
	o.note("reason", in.Reason)
	cur, err := b.decide(ctx, o, "")
	if err != nil {
		return cur, err
	}
	o.touch(cur.ContainerID, cur.ImageRef)
	if cur.Status == core.StatusStarting {
		return b.settleDeadStart(ctx, core.OpStop, cur)
	}
	if err := b.Driver.Stop(ctx, cur.ContainerID, b.Config.StopTimeout); err != nil {
		if errors.Is(err, ports.ErrNotFound) {
			return b.vanished(ctx, core.OpStop, cur)
		}
		return cur, driverErr("stop", err, core.CodeServiceUnavailable)
	}
	return b.swap(ctx, core.OpStop, cur, cur.Stopped(b.Now().UTC()))
}

// settleDeadStart ends a reservation whose start died (the caller holds the
// lease, so no start is alive): it removes every container the start may
// have created and moves the record to removed.
func (b *base) settleDeadStart(ctx context.Context, kind core.OpKind, cur core.Record) (core.Record, error) {
	if err := b.clearPrevious(ctx, cur); err != nil {
		return cur, err
	}
	return b.swap(ctx, kind, cur, cur.Removed(b.Now().UTC()))
}

// CleanupInput are the arguments of one cleanup.
type CleanupInput struct {
	GameID string
	Meta
}

// Cleaner removes the container of a stopped runtime (Handle under the
// game's lease, Run for a caller that holds it): the stopped container is
// removed and the record moves stopped → removed. Outcomes: success;
// replay_no_op when already removed; conflict when running or the lease is
// held; not_found; service_unavailable; invalid_request. A reservation left
// by a start that died is settled as by stop.
type Cleaner struct{ service[CleanupInput] }

func (c *Cleaner) spec(in CleanupInput) operation {
	return operation{kind: core.OpCleanup, game: in.GameID, meta: in.Meta,
		validate: func() error { return core.ValidateGameID(in.GameID) },
		body:     func(ctx context.Context, o *op) (core.Record, error) { return c.run(ctx, o, in) }}
}

func (c *Cleaner) run(ctx context.Context, o *op, in CleanupInput) (core.Record, error) {
	b := c.b
	cur, err := b.decide(ctx, o, "")
	if err != nil {
		return cur, err
	}
	o.touch(cur.ContainerID, cur.ImageRef)
	if cur.Status == core.StatusStarting {
		return b.settleDeadStart(ctx, core.OpCleanup, cur)
	}
	if cur.ContainerID != "" {
		if err := b.Driver.Remove(ctx, cur.ContainerID); err != nil {
			return cur, driverErr("remove", err, core.CodeServiceUnavailable)
		}
	}
	return b.swap(ctx, core.OpCleanup, cur, cur.Removed(b.Now().UTC()))
}
