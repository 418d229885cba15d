package lifecycle

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// StartInput are the arguments of one start.
type StartInput struct {
	GameID   string
	ImageRef string
	// Env is passed to the engine besides GAME_ID and PORT.
	Env map[string]string
	// RestartPolicy is the restart_policy JSON object as given (SPEC §3a);
	// fields it leaves out, or all of it when empty, come from the
	// configured default.
	RestartPolicy []byte
	Meta
	// prepared: the image was already made present under the pull policy
	// (before the lease, or by the restart or patch running this start).
	prepared bool

	// policy, set by restart and patch, keeps the record's policy.
	policy *core.RestartPolicy
	// auto marks the start of an automatic restart: the restart count and
	// streak grow instead of resetting.
	auto bool
}

// restartPolicy returns the policy the start gives the game.
func (in StartInput) restartPolicy(def core.RestartPolicy) (core.RestartPolicy, error) {
	if in.policy != nil {
		return *in.policy, nil
	}
	return core.ParseRestartPolicy(in.RestartPolicy, def)
}

func (in StartInput) validate(c Config) error {
	if err := core.ValidateGameID(in.GameID); err != nil {
		return err
	}
	if err := core.ValidateImageRef(in.ImageRef); err != nil {
		return err
	}
	if err := core.ValidateEnv(in.Env, c.EnvDeny); err != nil {
		return err
	}
	return c.Allow.Check(in.ImageRef, c.ImageSchemes...)
}

// Starter starts a game's engine in a new container; Handle does it under
// the game's lease, Run for a caller that holds it. Outcomes: success with
// the record running; replay_no_op when it already runs that image;
// conflict when it runs another image, the lease is held, or a newer
// stream job of the game was already handled; forbidden for an image
// outside the allow-list; image_unavailable; start_failed when the
// container cannot be started or its engine does not become ready within
// the start timeout (the container is then removed); service_unavailable;
// invalid_request.
type Starter struct{ service[StartInput] }

func (s *Starter) spec(in StartInput) operation {
	var policy core.RestartPolicy
	return operation{kind: core.OpStart, game: in.GameID, meta: in.Meta,
		validate: func() (err error) {
			if err = in.validate(s.b.Config); err != nil {
				return err
			}
			policy, err = in.restartPolicy(s.b.Config.Restart.Default)
			return err
		},
		prepare: func(ctx context.Context) error {
			err := s.b.images.prepare(ctx, in.ImageRef)
			in.prepared = err == nil
			return err
		},
		body: func(ctx context.Context, o *op) (core.Record, error) { return s.run(ctx, o, in, policy) }}
}

func (s *Starter) run(ctx context.Context, o *op, in StartInput, policy core.RestartPolicy) (core.Record, error) {
	b := s.b
	o.touch("", in.ImageRef)
	cur, err := b.decide(ctx, o, in.ImageRef)
	if err != nil {
		return cur, err
	}
	found := cur.GameID != ""
	if err := b.checkRuntimes(ctx, cur); err != nil { // early: before pulling or removing anything
		return cur, err
	}
	// A missing image fails before anything changes.
	if !in.prepared {
		if err := b.images.prepare(ctx, in.ImageRef); err != nil {
			return cur, err
		}
	}
	if err := b.clearPrevious(ctx, cur); err != nil {
		return cur, err
	}
	if !found {
		cur.GameID = in.GameID
	}
	now := b.Now().UTC()
	resv := cur.Starting(in.ImageRef, maps.Clone(in.Env), now)
	if in.auto {
		resv = resv.Restarted(now)
	} else {
		resv = resv.Fresh(policy)
	}
	resv, err = b.reserve(ctx, cur, found, resv)
	if err != nil {
		return resv, err
	}
	o.note("generation", resv.Generation)
	return b.launch(ctx, o, resv)
}

// clearPrevious removes the container a stopped runtime kept, and any
// container a crashed start of this game left behind, so a game never has
// two containers.
func (b *base) clearPrevious(ctx context.Context, cur core.Record) error {
	if cur.ContainerID != "" {
		if err := b.Driver.Remove(ctx, cur.ContainerID); err != nil {
			return driverErr("remove previous container", err, core.CodeServiceUnavailable)
		}
	}
	if cur.Status != core.StatusStarting {
		return nil
	}
	left, err := b.listScoped(ctx, map[string]string{ports.LabelManaged: "true", ports.LabelGameID: cur.GameID})
	if err != nil {
		return driverErr("list leftover containers", err, core.CodeServiceUnavailable)
	}
	for _, c := range left {
		if err := b.Driver.Remove(ctx, c.ID); err != nil {
			return driverErr("remove leftover container", err, core.CodeServiceUnavailable)
		}
	}
	return nil
}

// launch creates the container of the reserved generation, waits until its
// engine is ready and records it as running. On any failure it removes what
// it created and moves the reservation to removed.
func (b *base) launch(ctx context.Context, o *op, resv core.Record) (core.Record, error) {
	env := maps.Clone(resv.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["GAME_ID"] = resv.GameID
	spec := ports.ContainerSpec{
		Name: core.ContainerName(b.Config.Scope, resv.GameID, resv.Generation), Image: resv.ImageRef, Env: env,
		Labels: b.labels(resv.GameID, resv.Generation, resv.ImageRef),
		Port:   b.Config.EnginePort, HostIP: b.Config.HostIP, Limits: b.Config.Limits,
		User: b.Config.EngineUser, ReadOnlyRootFS: b.Config.ReadOnlyRootFS,
	}
	c, err := b.Driver.Start(ctx, spec)
	if errors.Is(err, ports.ErrConflict) {
		// The name is taken by a container of another scope, game,
		// generation or image (e.g. one left from before a database
		// reset): Start touched nothing, so neither may the clean-up.
		return b.release(ctx, resv, driverErr("start", err, core.CodeStartFailed))
	}
	if err != nil {
		return b.abandon(ctx, resv, "", driverErr("start", err, core.CodeStartFailed))
	}
	o.touch(c.ID, "")
	endpoint, err := b.awaitReady(ctx, c)
	if err != nil {
		return b.abandon(ctx, resv, c.ID, err)
	}
	run := resv.Running(c.ID, endpoint, b.Now().UTC())
	return b.deferSwap(o, &lastSwap{ctx: ctx, cur: resv, next: run,
		failed: func(err error) (core.Record, error) {
			if now, adopted := b.adoptedMeanwhile(ctx, resv.GameID, c.ID); adopted {
				return now, nil
			}
			return b.abandon(ctx, resv, c.ID, storeErr("record running container", err))
		},
		event: new(b.event(core.EventContainerStarted, run, nil)),
	})
}

// readyBackoff are the pauses before the second, third and fourth
// readiness probes of a start; later probes come every Config.ReadyPoll.
// A player waits on the start, and most engines answer within a few tens
// of milliseconds: probing only every ReadyPoll would add up to a whole
// ReadyPoll to every such start.
var readyBackoff = [...]time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}

// awaitReady waits, up to the start timeout, until the container runs and
// its engine answers the health probe. It returns the endpoint. It probes
// at once, then after readyBackoff, then every ReadyPoll; after a pause it
// probes before it inspects, so a ready engine costs no inspect, and a
// missed probe is followed by an inspect, so an engine that exits fails
// the start at once.
func (b *base) awaitReady(ctx context.Context, c ports.Container) (string, error) {
	deadline := time.Now().Add(b.Config.StartTimeout)
	var lastMiss error
	probed := false // c's endpoint was just probed, and missed
	for attempt := 0; ; attempt++ {
		if c.State == ports.StateExited {
			return "", core.Errorf(core.CodeStartFailed, "engine exited with code %d during start-up", c.ExitCode)
		}
		if c.State == ports.StateRunning {
			if b.Prober == nil || c.Endpoint == "" {
				return c.Endpoint, nil
			}
			if !probed {
				if lastMiss = b.Prober.Probe(ctx, c.Endpoint); lastMiss == nil {
					return c.Endpoint, nil
				}
			}
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return "", core.Errorf(core.CodeStartFailed, "engine not ready within %s (state %s, last probe: %v)",
				b.Config.StartTimeout, c.State, lastMiss)
		}
		pause := b.Config.ReadyPoll
		if attempt < len(readyBackoff) {
			pause = min(pause, readyBackoff[attempt])
		}
		t := time.NewTimer(min(wait, pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", core.Errorf(core.CodeServiceUnavailable, "waiting for engine readiness: %v", context.Cause(ctx))
		case <-t.C:
		}
		probed = false
		if c.State == ports.StateRunning && c.Endpoint != "" {
			if lastMiss = b.Prober.Probe(ctx, c.Endpoint); lastMiss == nil {
				return c.Endpoint, nil
			}
			probed = true
		}
		next, err := b.Driver.Inspect(ctx, c.ID)
		if err != nil {
			return "", driverErr("inspect starting container", err, core.CodeStartFailed)
		}
		probed = probed && next.State == ports.StateRunning && next.Endpoint == c.Endpoint
		c = next
	}
}

// abandon undoes a start that failed after its reservation: it removes the
// container (by id, or by the generation's labels when the id is unknown)
// and moves the reservation to removed. It runs on a context detached from
// ctx's cancellation so a cancelled request still leaves no orphan.
func (b *base) abandon(ctx context.Context, resv core.Record, id string, cause error) (core.Record, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.Config.StopTimeout+cleanupTimeout)
	defer cancel()
	ids := []string{id}
	if id == "" {
		ids = nil
		left, err := b.listScoped(cctx, map[string]string{ports.LabelGameID: resv.GameID,
			ports.LabelGeneration: strconv.FormatInt(resv.Generation, 10)})
		if err != nil {
			b.log.WarnContext(ctx, "list containers of failed start", "game_id", resv.GameID, "err", err)
		}
		for _, c := range left {
			ids = append(ids, c.ID)
		}
	}
	for _, cid := range ids {
		if err := b.Driver.Remove(cctx, cid); err != nil {
			b.log.WarnContext(ctx, "remove container of failed start; the reconciler will retry",
				"game_id", resv.GameID, "container_id", cid, "err", err)
		}
	}
	return b.release(cctx, resv, cause)
}

// release moves the reservation of a failed start to removed and returns
// cause; it runs on a context detached from ctx's cancellation.
func (b *base) release(ctx context.Context, resv core.Record, cause error) (core.Record, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	gone := resv.Removed(b.Now().UTC())
	if err := b.Records.Swap(cctx, ports.ExpectOf(resv), gone); err != nil {
		b.log.WarnContext(ctx, "record failed start", "game_id", resv.GameID, "err", err)
		return resv, cause
	}
	return gone, cause
}
