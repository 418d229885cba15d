package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// ReconcileReport counts what one reconcile pass found and changed.
type ReconcileReport struct {
	Records    int
	Containers int
	// Disappeared: running records whose container is gone → removed.
	Disappeared int
	// Exited: running records whose container exited → stopped.
	Exited int
	// Adopted: starting records whose container runs → running.
	Adopted int
	// Abandoned: starting records with no container → removed.
	Abandoned int
	// Orphans: labelled containers with no matching record → removed.
	Orphans int
	// Skipped: games another operation held the lease of.
	Skipped int
	// Failed: repairs that failed; the next pass retries them.
	Failed int
}

// Reconciler compares the records with the driver's labelled containers and
// repairs the difference. Every repair takes the game's lease, re-reads the
// record and writes through the same CAS and operation log as the lifecycle
// services (op_kind reconcile, op_source reconciler), so several instances
// may reconcile at once.
type Reconciler struct {
	b *base
	// OrphanGrace leaves a labelled container without a matching record
	// alone while it is younger than this.
	OrphanGrace time.Duration
	// lastRecords is how many heads the last pass read: the next pass
	// sizes its map for them once instead of growing it page by page.
	lastRecords atomic.Int64
}

// NewReconciler returns a reconciler sharing s's dependencies.
func (s *Services) NewReconciler(orphanGrace time.Duration) *Reconciler {
	return &Reconciler{b: s.b, OrphanGrace: orphanGrace}
}

// listPage is the page size background loops read records with.
const listPage = 1000

// headPage is the page size a reconcile pass reads record heads with; a
// store may return fewer (the SQL store's cap is 10,000).
const headPage = 10_000

// Pass runs one reconcile pass. Its error reports only that the pass could
// not look at the world (store or driver unreachable); repairs that fail are
// counted in the report and retried by the next pass.
//
// A pass compares record heads (ListHeads: status, container, generation,
// pending restart), not whole records: the rest of a record matters only
// to a repair, which re-reads it (first to see it is unchanged, then under
// the game's lease before any CAS).
func (r *Reconciler) Pass(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	// Records first, containers second: a start that completes in between
	// then shows as a starting record (left to its lease) rather than a
	// running record whose container seems missing.
	heads, byGame, err := r.heads(ctx)
	if err != nil {
		return rep, err
	}
	rep.Records = len(heads)
	r.lastRecords.Store(int64(len(heads)))
	containers, err := r.b.listScoped(ctx, map[string]string{ports.LabelManaged: "true"})
	if err != nil {
		return rep, fmt.Errorf("reconcile: list containers: %w", err)
	}
	rep.Containers = len(containers)
	// What each record's current container looks like in the listing,
	// found through the container's game label (no index by container id:
	// a container labelled for another game than the record naming it is
	// not seen, and its record's repair inspects it by id instead).
	// owner[k] is the index of containers[k]'s game in heads, -1 when it
	// has no head: one lookup per container serves both loops below.
	seen := make([]containerSeen, len(heads))
	owner := make([]int32, len(containers))
	for k, c := range containers {
		i, ok := byGame[c.Labels[ports.LabelGameID]]
		if !ok {
			owner[k] = -1
			continue
		}
		owner[k] = i
		if heads[i].ContainerID != "" && heads[i].ContainerID == c.ID {
			seen[i] = seenListed
			if c.State == ports.StateExited {
				seen[i] = seenExited
			}
		}
	}
	for i, h := range heads {
		suspect := false
		switch h.Status {
		case core.StatusRunning:
			suspect = seen[i] != seenListed
		case core.StatusStarting:
			suspect = true
		case core.StatusStopped:
			suspect = seen[i] == seenNot && h.ContainerID != ""
		}
		// Only a record that still reads the same is worth the game's
		// lease: one an operation just moved is left to the next pass, so
		// a pass never makes a client's operation meet a busy lease.
		if suspect && r.unchanged(ctx, h) {
			rep.count(r.repair(ctx, h.GameID))
		}
	}
	now := r.b.Now()
	for k, c := range containers {
		var h core.RecordHead
		if i := owner[k]; i >= 0 {
			h = heads[i]
		}
		if r.belongs(c, h) || now.Sub(c.CreatedAt) < r.OrphanGrace {
			continue
		}
		game := c.Labels[ports.LabelGameID]
		if cur, err := r.b.Records.Get(ctx, game); err == nil && r.belongs(c, cur.Head()) {
			continue // a start recorded it after the records were listed
		}
		rep.count(r.removeOrphan(ctx, c))
	}
	return rep, nil
}

// containerSeen is how a pass found a record's current container listed.
type containerSeen uint8

const (
	seenNot    containerSeen = iota // not listed
	seenListed                      // listed, not exited
	seenExited                      // listed, exited
)

// heads reads the heads of every starting, running and stopped record and
// indexes them by game, and puts each pending automatic restart on the
// restart schedule (its fallback after a restart of rtmanager, or for one
// another instance set).
func (r *Reconciler) heads(ctx context.Context) ([]core.RecordHead, map[string]int32, error) {
	hint := r.lastRecords.Load()
	heads := make([]core.RecordHead, 0, hint)
	byGame := make(map[string]int32, hint)
	for _, st := range []core.Status{core.StatusStarting, core.StatusRunning, core.StatusStopped} {
		q := ports.ListQuery{Status: st, Limit: headPage}
		for {
			page, next, err := r.b.Records.ListHeads(ctx, q)
			if err != nil {
				return nil, nil, fmt.Errorf("reconcile: list %s records: %w", st, err)
			}
			for _, h := range page {
				// One map write per head; a game read twice (moved to a
				// later status while listed) is settled below.
				byGame[h.GameID] = int32(len(heads))
				heads = append(heads, h)
				if h.NextRestartAt != nil {
					r.b.due.add(h.GameID, *h.NextRestartAt)
				}
			}
			if next == "" {
				break
			}
			q.After = next
		}
	}
	if len(byGame) != len(heads) {
		heads = latestHeads(heads, byGame)
	}
	return heads, byGame, nil
}

// latestHeads drops from heads each game's earlier reads, keeping the one
// byGame indexes (the later read wins), and re-indexes byGame.
func latestHeads(heads []core.RecordHead, byGame map[string]int32) []core.RecordHead {
	kept := heads[:0]
	for i, h := range heads {
		if byGame[h.GameID] == int32(i) {
			byGame[h.GameID] = int32(len(kept))
			kept = append(kept, h)
		}
	}
	return kept
}

// unchanged reports whether the game's record still has h's status,
// container and generation.
func (r *Reconciler) unchanged(ctx context.Context, h core.RecordHead) bool {
	now, err := r.b.Records.Get(ctx, h.GameID)
	return err == nil && ports.ExpectOf(now) == ports.ExpectOfHead(h)
}

// belongs reports whether c is the container of the record h heads.
func (r *Reconciler) belongs(c ports.Container, h core.RecordHead) bool {
	switch {
	case h.GameID == "":
		return false
	case h.ContainerID != "" && c.ID == h.ContainerID:
		return true
	case h.Status == core.StatusStarting:
		return c.Labels[ports.LabelGeneration] == strconv.FormatInt(h.Generation, 10)
	}
	return false
}

// tally is what one repair counts as in a ReconcileReport.
type tally uint8

const (
	tallyNone tally = iota // nothing needed doing
	tallySkipped
	tallyFailed
	tallyDisappeared
	tallyExited
	tallyAdopted
	tallyAbandoned
	tallyOrphan
)

// count adds one repair to the report.
func (rep *ReconcileReport) count(t tally) {
	switch t {
	case tallySkipped:
		rep.Skipped++
	case tallyFailed:
		rep.Failed++
	case tallyDisappeared:
		rep.Disappeared++
	case tallyExited:
		rep.Exited++
	case tallyAdopted:
		rep.Adopted++
	case tallyAbandoned:
		rep.Abandoned++
	case tallyOrphan:
		rep.Orphans++
	}
}

// tallyOf turns a background repair's result into its tally; done is what
// the repair's step reported doing (tallyNone when it did nothing).
func tallyOf(res Result, err error, done tally) tally {
	switch {
	case err != nil, res.Busy:
		return tallySkipped
	case res.Outcome == core.OutcomeFailure:
		return tallyFailed
	}
	return done
}

// repair re-examines one game under its lease and settles its record.
func (r *Reconciler) repair(ctx context.Context, game string) tally {
	done := tallyNone
	res, err := r.b.background(ctx, game,
		func(ctx context.Context, o *op) (core.Record, error) {
			rec, t, err := r.settle(ctx, o, game)
			done = t
			return rec, err
		})
	return tallyOf(res, err, done)
}

// settle decides and applies the repair of one game; it returns what the
// repair counts as (tallyNone when nothing needed doing).
func (r *Reconciler) settle(ctx context.Context, o *op, game string) (core.Record, tally, error) {
	b := r.b
	rec, found, err := b.load(ctx, game)
	if err != nil {
		return rec, tallyNone, err
	}
	if !found {
		return rec, tallyNone, errNothingToDo
	}
	o.touch(rec.ContainerID, rec.ImageRef)
	switch rec.Status {
	case core.StatusRunning:
		c, err := b.Driver.Inspect(ctx, rec.ContainerID)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			next, err := b.exited(ctx, o, rec, core.Exit{Code: -1, Gone: true})
			return next, tallyDisappeared, err
		case err != nil:
			return rec, tallyNone, driverErr("inspect", err, core.CodeServiceUnavailable)
		case c.State != ports.StateExited:
			return rec, tallyNone, errNothingToDo
		}
		next, err := b.exited(ctx, o, rec, core.Exit{Code: c.ExitCode, OOMKilled: c.OOMKilled})
		return next, tallyExited, err
	case core.StatusStopped:
		// A stopped container removed behind rtmanager's back.
		if rec.ContainerID == "" {
			return rec, tallyNone, errNothingToDo
		}
		if _, err := b.Driver.Inspect(ctx, rec.ContainerID); !errors.Is(err, ports.ErrNotFound) {
			if err != nil {
				return rec, tallyNone, driverErr("inspect", err, core.CodeServiceUnavailable)
			}
			return rec, tallyNone, errNothingToDo
		}
		if rec.NextRestartAt != nil {
			// Its automatic restart makes a new container anyway (docker
			// rm -f: the exit was settled first, then the removal).
			gone := rec
			gone.ContainerID, gone.LastOpAt = "", b.Now().UTC()
			next, err := b.swap(ctx, core.OpReconcile, rec, gone)
			if err == nil {
				b.publish(ctx, core.EventContainerDisappeared, rec, map[string]any{"restart_at": rec.NextRestartAt.UTC().Format(time.RFC3339Nano)})
			}
			return next, tallyDisappeared, err
		}
		next, err := b.vanished(ctx, core.OpReconcile, rec)
		return next, tallyDisappeared, err
	case core.StatusStarting:
		cs, err := b.listScoped(ctx, map[string]string{ports.LabelGameID: game,
			ports.LabelGeneration: strconv.FormatInt(rec.Generation, 10)})
		if err != nil {
			return rec, tallyNone, driverErr("list", err, core.CodeServiceUnavailable)
		}
		for _, c := range cs {
			if c.State == ports.StateRunning {
				o.touch(c.ID, "")
				next, err := b.swap(ctx, core.OpReconcile, rec, rec.Running(c.ID, c.Endpoint, b.Now().UTC()))
				if err == nil {
					b.publish(ctx, core.EventContainerStarted, next, map[string]any{"adopted": true})
				}
				return next, tallyAdopted, err
			}
		}
		for _, c := range cs {
			if err := b.Driver.Remove(ctx, c.ID); err != nil {
				return rec, tallyNone, driverErr("remove", err, core.CodeServiceUnavailable)
			}
		}
		next, err := b.swap(ctx, core.OpReconcile, rec, rec.Removed(b.Now().UTC()))
		return next, tallyAbandoned, err
	}
	return rec, tallyNone, errNothingToDo
}

// removeOrphan stops and removes a labelled container no record accounts
// for, under its game's lease, after checking the record once more. A
// container with a forged game label is still removed, just not under a
// lease; either way the outcome goes through run and op.finish.
func (r *Reconciler) removeOrphan(ctx context.Context, c ports.Container) tally {
	b := r.b
	game := c.Labels[ports.LabelGameID]
	if core.ValidateGameID(game) != nil {
		game = ""
	}
	done := tallyNone
	orphan := func(ctx context.Context, o *op) (core.Record, error) {
		o.touch(c.ID, c.Labels[ports.LabelImageRef])
		rec, _, err := b.load(ctx, game)
		if err != nil {
			return rec, err
		}
		if r.belongs(c, rec.Head()) {
			return rec, errNothingToDo
		}
		if err := b.Driver.Stop(ctx, c.ID, b.Config.StopTimeout); err != nil && !errors.Is(err, ports.ErrNotFound) {
			return rec, driverErr("stop orphan", err, core.CodeServiceUnavailable)
		}
		if err := b.Driver.Remove(ctx, c.ID); err != nil {
			return rec, driverErr("remove orphan", err, core.CodeServiceUnavailable)
		}
		if game != "" {
			b.publish(ctx, core.EventOrphanRemoved, core.Record{GameID: game, ContainerID: c.ID},
				map[string]any{"generation": c.Labels[ports.LabelGeneration], "image_ref": c.Labels[ports.LabelImageRef]})
		}
		done = tallyOrphan
		return rec, nil
	}
	res, err := b.run(ctx, operation{kind: core.OpReconcile, game: game,
		meta: Meta{Source: core.SourceReconciler}, body: orphan}, runOpts{lease: game != "", quiet: quietRepair})
	return tallyOf(res, err, done)
}
