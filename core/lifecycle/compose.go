package lifecycle

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
)

// RestartInput are the arguments of one restart.
type RestartInput struct {
	GameID string
	Meta
}

// Restarter stops a game and starts it again on the same image and env,
// under one lease; its audit entry and the inner stop and start entries
// share one correlation id.
//
// Handle restarts the game under its lease, Run for a caller that holds it.
// Outcomes: success with a new container; not_found; conflict for a removed
// runtime or a held lease; and the failure of the inner stop or start.
type Restarter struct {
	service[RestartInput]
	start *Starter
	stop  *Stopper
}

func (r *Restarter) spec(in RestartInput) operation {
	return operation{kind: core.OpRestart, game: in.GameID, meta: in.Meta,
		validate: func() error { return core.ValidateGameID(in.GameID) },
		body:     func(ctx context.Context, o *op) (core.Record, error) { return r.run(ctx, o, in) }}
}

func (r *Restarter) run(ctx context.Context, o *op, in RestartInput) (core.Record, error) {
	cur, err := r.b.decide(ctx, o, "")
	if err != nil {
		return cur, err
	}
	o.touch(cur.ContainerID, cur.ImageRef)
	// The image is made present (pulled under policy always) before the
	// engine is stopped, so an unavailable image costs no downtime.
	if err := r.b.images.prepare(ctx, cur.ImageRef); err != nil {
		return cur, err
	}
	if cur.Status == core.StatusRunning {
		res, err := r.stop.Run(ctx, StopInput{GameID: in.GameID, Reason: core.ReasonRestart, Meta: o.meta()})
		if err != nil {
			return cur, err
		}
		if res.Outcome == core.OutcomeFailure {
			return res.Record, res.Err()
		}
	}
	res, err := r.start.Run(ctx, StartInput{GameID: in.GameID, ImageRef: cur.ImageRef, Env: cur.Env, Meta: o.meta(), prepared: true})
	if err != nil {
		return cur, err
	}
	return res.Record, res.Err()
}

// PatchInput are the arguments of one patch.
type PatchInput struct {
	GameID   string
	ImageRef string
	Meta
	// prepared: the new image was made present before the lease.
	prepared bool
}

// Patcher swaps a game's engine image: stop, then start on the new image.
// If the new image does not start, the old one is started again.
//
// Handle patches the game under its lease, Run for a caller that holds it.
// The new image is prepared before the running engine is stopped, so a
// missing image costs no downtime. Outcomes: success running the new image;
// replay_no_op when it already runs it; image_unavailable or start_failed
// when the new image cannot run (a game that was running is left running on
// the old image); forbidden; not_found; conflict; service_unavailable;
// invalid_request.
type Patcher struct {
	service[PatchInput]
	start *Starter
	stop  *Stopper
}

func (in PatchInput) validate(c Config) error {
	if err := core.ValidateGameID(in.GameID); err != nil {
		return err
	}
	if err := core.ValidateImageRef(in.ImageRef); err != nil {
		return err
	}
	return c.Allow.Check(in.ImageRef, c.ImageSchemes...)
}

func (p *Patcher) spec(in PatchInput) operation {
	return operation{kind: core.OpPatch, game: in.GameID, meta: in.Meta,
		validate: func() error { return in.validate(p.b.Config) },
		prepare: func(ctx context.Context) error {
			err := p.b.images.prepare(ctx, in.ImageRef)
			in.prepared = err == nil
			return err
		},
		body: func(ctx context.Context, o *op) (core.Record, error) { return p.run(ctx, o, in) }}
}

func (p *Patcher) run(ctx context.Context, o *op, in PatchInput) (core.Record, error) {
	b := p.b
	o.touch("", in.ImageRef)
	cur, err := b.decide(ctx, o, in.ImageRef)
	if err != nil {
		return cur, err
	}
	o.note("from_image", cur.ImageRef)
	// The new image is pulled before the running engine is stopped.
	if !in.prepared {
		if err := b.images.prepare(ctx, in.ImageRef); err != nil {
			return cur, err
		}
	}
	wasRunning := cur.Status == core.StatusRunning
	if wasRunning {
		res, err := p.stop.Run(ctx, StopInput{GameID: in.GameID, Reason: core.ReasonPatch, Meta: o.meta()})
		if err != nil {
			return cur, err
		}
		if res.Outcome == core.OutcomeFailure {
			return res.Record, res.Err()
		}
	}
	res, err := p.start.Run(ctx, StartInput{GameID: in.GameID, ImageRef: in.ImageRef, Env: cur.Env, Meta: o.meta(), prepared: true})
	if err != nil {
		return cur, err
	}
	failed := res.Err()
	if code := core.CodeOf(failed); !wasRunning || (code != core.CodeStartFailed && code != core.CodeImageUnavailable) {
		return res.Record, failed
	}
	// The old image ran until the stop, so it is present: no pull delays
	// the roll-back.
	back, err := p.start.Run(ctx, StartInput{GameID: in.GameID, ImageRef: cur.ImageRef, Env: cur.Env, Meta: o.meta(), prepared: true})
	if err != nil {
		return res.Record, err
	}
	if back.Outcome == core.OutcomeFailure {
		return back.Record, core.Errorf(core.CodeOf(failed), "%s; rolling back to %q failed too: %s",
			core.MessageOf(failed), cur.ImageRef, back.ErrorMessage)
	}
	return back.Record, core.Errorf(core.CodeOf(failed), "%s; rolled back to %q", core.MessageOf(failed), cur.ImageRef)
}
