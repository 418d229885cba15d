package lifecycle

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// exited settles a running record whose engine exited on its own, or
// whose container vanished (e.Gone), the caller holding the game's lease:
// the record moves as core.Record.Exited (or Gone) decides under its
// restart policy, and container_exited (container_disappeared) is
// published. A scheduled restart joins the due set; a crash loop is
// recorded as a stop with reason crash_loop (op_kind stop, op_source
// monitor) and a crash_loop event.
func (b *base) exited(ctx context.Context, o *op, rec core.Record, e core.Exit) (core.Record, error) {
	now := b.Now().UTC()
	next, verdict := rec.Exited(e, now, b.Config.Restart.Backoff)
	typ := core.EventContainerExited
	if e.Gone {
		next, verdict = rec.Gone(now, b.Config.Restart.Backoff)
		typ = core.EventContainerDisappeared
	}
	next, err := b.swap(ctx, core.OpReconcile, rec, next)
	if err != nil {
		return next, err
	}
	details := map[string]any{"exit_code": e.Code, "oom_killed": e.OOMKilled, "classification": e.Class()}
	o.note("exit_code", e.Code, "classification", e.Class())
	switch verdict {
	case core.RestartLater:
		details["restart_at"] = next.NextRestartAt.UTC().Format(time.RFC3339Nano)
		details["backoff_ms"] = next.Crash.BackoffMS
		o.note("restart_at", next.NextRestartAt)
	case core.CrashLoop:
		o.entry.OpKind, o.entry.OpSource, o.entry.SourceRef = core.OpStop, core.SourceMonitor, string(core.ReasonCrashLoop)
	}
	b.publish(ctx, typ, rec, details)
	switch verdict {
	case core.RestartLater:
		b.due.add(next.GameID, *next.NextRestartAt)
	case core.CrashLoop:
		b.crashLoop(ctx, o, next, e)
	}
	return next, nil
}

// AutoRestarter runs the automatic restarts that restart policies
// schedule. The schedule is the records' NextRestartAt: an exit the monitor
// or reconciler settles, and every reconcile pass, tell this instance when
// to look; each restart re-reads the record under the game's lease, so a
// restart another instance already made, or an operation that cancelled
// it, leaves nothing to do.
type AutoRestarter struct {
	b     *base
	start *Starter
	// BusyRetry is how soon a restart that met the game's lease held is
	// tried again.
	BusyRetry time.Duration
}

// NewAutoRestarter returns an auto-restarter sharing s's dependencies.
func (s *Services) NewAutoRestarter() *AutoRestarter {
	return &AutoRestarter{b: s.b, start: s.Start, BusyRetry: time.Second}
}

// Run restarts games as their restarts fall due, until ctx ends; it
// returns once the restarts it began have finished.
func (a *AutoRestarter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		now := a.b.Now()
		for _, game := range a.b.due.take(now) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A restart under way finishes during shutdown rather than
				// leave its game half started.
				c := a.b.Config
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.StopTimeout+c.StartTimeout+cleanupTimeout)
				defer cancel()
				ports.Guard(rctx, a.b.Telemetry, a.b.log, "restart", func() {
					if res, err := a.RestartDue(rctx, game); err == nil && res.Busy {
						a.b.due.add(game, a.b.Now().Add(a.BusyRetry))
					}
				})
			}()
		}
		wait := time.Minute
		if at, ok := a.b.due.next(); ok {
			wait = min(wait, max(at.Sub(now), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.b.due.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// RestartDue makes the automatic restart of game if one is due: a restart
// operation (op_source monitor) under the game's lease that starts a new
// container of the next generation with the record's image, env and
// policy, counts it, and publishes container_restarted. A restart not yet
// due is put back in the schedule; a record with none pending (another
// instance restarted it, or an operation cancelled it) leaves no trace,
// and neither does a held lease or a start refused for capacity
// (Result.Busy: Run tries again after BusyRetry). A start that fails is
// recorded, and counts as a failed attempt (see attemptFailed).
func (a *AutoRestarter) RestartDue(ctx context.Context, game string) (Result, error) {
	b := a.b
	body := func(ctx context.Context, o *op) (core.Record, error) {
		cur, found, err := b.load(ctx, game)
		switch {
		case err != nil:
			return cur, err
		case !found || cur.Status != core.StatusStopped || cur.NextRestartAt == nil:
			return cur, errNothingToDo
		case !cur.RestartDue(b.Now()):
			b.due.add(game, *cur.NextRestartAt)
			return cur, errNothingToDo
		}
		o.touch(cur.ContainerID, cur.ImageRef)
		exit := cur.Crash
		// A start refused for capacity (RTMANAGER_MAX_RUNTIMES) is no
		// failed attempt: it leaves no trace and is tried again soon.
		meta := o.meta()
		meta.QuietBusy = true
		res, err := a.start.Run(ctx, StartInput{GameID: game, ImageRef: cur.ImageRef, Env: cur.Env,
			Meta: meta, policy: &cur.RestartPolicy, auto: true})
		if err != nil {
			return cur, err
		}
		if res.Busy {
			return cur, busyError{&core.Error{Code: res.ErrorCode, Message: res.ErrorMessage}}
		}
		if res.Outcome == core.OutcomeFailure {
			return a.attemptFailed(ctx, o, res, cur)
		}
		o.note("attempt", res.Record.Crash.Streak, "restart_count", res.Record.RestartCount,
			"classification", exit.LastExitClass)
		b.publish(ctx, core.EventContainerRestarted, res.Record, map[string]any{
			"attempt": res.Record.Crash.Streak, "restart_count": res.Record.RestartCount,
			"exit_code": exit.LastExitCode, "classification": exit.LastExitClass, "backoff_ms": exit.BackoffMS,
			"generation": res.Record.Generation})
		b.Telemetry.AutoRestarted(ctx, exit.LastExitClass)
		return res.Record, nil
	}
	return b.run(ctx, operation{kind: core.OpRestart, game: game, meta: Meta{Source: core.SourceMonitor},
		validate: func() error { return core.ValidateGameID(game) }, body: body},
		runOpts{lease: true, quiet: quietRepair})
}

// attemptFailed settles an automatic restart whose start failed: the
// engine died during start-up or was not ready (the failed start left the
// record removed, without a container), or the start could not begin (the
// image or the runtime is unavailable: the record is still stopped with
// its restart pending). Either counts as one more attempt of the streak,
// so the game stays stopped with the next restart after a longer backoff,
// or is given up as a crash loop, with the env it had before. The restart
// operation still reports the start's failure.
func (a *AutoRestarter) attemptFailed(ctx context.Context, o *op, res Result, before core.Record) (core.Record, error) {
	b := a.b
	failed := res.Err()
	rec, found, err := b.load(ctx, res.Record.GameID)
	if err != nil || !found {
		return res.Record, failed
	}
	now := b.Now().UTC()
	cur := rec
	switch {
	case rec.Status == core.StatusRemoved && rec.ContainerID == "":
		// The reservation counted the attempt.
	case rec.Status == core.StatusStopped && rec.NextRestartAt != nil:
		rec = rec.Restarted(now)
	default:
		return res.Record, failed
	}
	// The failed attempt ran for no time: the streak goes on.
	ran := rec
	ran.StartedAt = &now
	next, verdict := ran.Exited(core.Exit{Code: -1}, now, b.Config.Restart.Backoff)
	// The failed start's removal dropped the env; the game keeps it for
	// its next attempt.
	next.StartedAt, next.Env = rec.StartedAt, maps.Clone(before.Env)
	if next, err = b.swap(ctx, core.OpRestart, cur, next); err != nil {
		return next, failed
	}
	switch verdict {
	case core.RestartLater:
		b.due.add(next.GameID, *next.NextRestartAt)
		return next, core.Errorf(core.CodeOf(failed), "%s; next restart at %s", core.MessageOf(failed),
			next.NextRestartAt.Format(time.RFC3339Nano))
	case core.CrashLoop:
		b.crashLoop(ctx, o, next, core.Exit{Code: -1})
		return next, core.Errorf(core.CodeOf(failed), "%s; given up as a crash loop", core.MessageOf(failed))
	}
	return next, failed
}

// crashLoop publishes a crash loop of rec, whose engine last exited with
// e, and counts it.
func (b *base) crashLoop(ctx context.Context, o *op, rec core.Record, e core.Exit) {
	o.note("reason", core.ReasonCrashLoop)
	b.publish(ctx, core.EventCrashLoop, rec, map[string]any{"restarts": len(rec.Crash.History),
		"window": rec.RestartPolicy.Window.String(), "max_restarts": rec.RestartPolicy.MaxRestarts,
		"reason": core.ReasonCrashLoop, "exit_code": e.Code, "classification": e.Class()})
	b.Telemetry.CrashLooped(ctx)
}

// dueSet is the in-memory schedule of pending automatic restarts: when to
// look at which game. It may be stale or incomplete; the records decide.
type dueSet struct {
	mu sync.Mutex
	at map[string]time.Time
	// wake tells Run the schedule changed.
	wake chan struct{}
}

func newDueSet() *dueSet {
	return &dueSet{at: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// add schedules a look at game at t (replacing an earlier entry).
func (d *dueSet) add(game string, t time.Time) {
	d.mu.Lock()
	d.at[game] = t
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// take removes and returns the games due at now.
func (d *dueSet) take(now time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var games []string
	for g, t := range d.at {
		if !t.After(now) {
			games = append(games, g)
			delete(d.at, g)
		}
	}
	return games
}

// next returns the earliest scheduled time.
func (d *dueSet) next() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first time.Time
	for _, t := range d.at {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, !first.IsZero()
}
