package ingress

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// maxResultGameID caps the game_id echoed in the result of a malformed
// entry.
const maxResultGameID = 128

// process handles one job and writes its result. Without a result (the
// worker stopped while the job waited on a lease, or the result could not
// be written) the job stays pending for a claim.
func (w *Worker) process(runCtx, jobCtx context.Context, job ports.Job) {
	if job.Deliveries > 1 {
		w.log.InfoContext(jobCtx, "handling a redelivered job", "job_stream", job.Stream,
			"job_id", job.ID, "deliveries", job.Deliveries)
	}
	r, ok := w.execute(runCtx, jobCtx, job)
	if !ok {
		return
	}
	r.JobStream, r.JobID, r.FinishedAt = job.Stream, job.ID, w.cfg.Now().UTC()
	w.complete(jobCtx, job, r)
}

// execute decodes the job and runs it, retrying while the game's lease is
// busy. ok is false when it gave up without a result.
func (w *Worker) execute(runCtx, jobCtx context.Context, job ports.Job) (r ports.JobResult, ok bool) {
	meta := lifecycle.Meta{Source: core.SourceStream, SourceRef: job.ID, Seq: job.Seq}
	var kind core.OpKind
	var run func(quiet bool) (lifecycle.Result, error)
	var game string
	var err error
	switch job.Stream {
	case w.cfg.StartStream:
		kind = core.OpStart
		var in lifecycle.StartInput
		if in, err = DecodeStart(job.Fields); err == nil {
			in.Meta, game = meta, in.GameID
			run = func(quiet bool) (lifecycle.Result, error) {
				in.Meta.QuietBusy = quiet
				return w.cfg.Services.Start.Handle(jobCtx, in)
			}
		}
	case w.cfg.StopStream:
		kind = core.OpStop
		var in lifecycle.StopInput
		if in, err = DecodeStop(job.Fields); err == nil {
			in.Meta, game = meta, in.GameID
			run = func(quiet bool) (lifecycle.Result, error) {
				in.Meta.QuietBusy = quiet
				return w.cfg.Services.Stop.Handle(jobCtx, in)
			}
		}
	default:
		err = core.Errorf(core.CodeInvalidRequest, "entry from unknown stream %q", job.Stream)
	}
	if err != nil {
		w.log.WarnContext(jobCtx, "malformed job", "job_stream", job.Stream, "job_id", job.ID,
			"op_kind", kind, "error_code", core.CodeOf(err), "err", core.MessageOf(err))
		return ports.JobResult{GameID: clip(job.Fields[FieldGameID]), OpKind: kind,
			Outcome: core.OutcomeFailure, ErrorCode: core.CodeOf(err), ErrorMessage: core.MessageOf(err)}, true
	}

	deadline := time.Now().Add(w.cfg.ConflictRetry)
	wait := backoff{base: 50 * time.Millisecond, limit: time.Second}
	for {
		// Attempts that will be retried when busy leave no audit entry;
		// the last one (past the deadline) does.
		res, err := run(time.Now().Before(deadline))
		if err != nil {
			// A programmer error: still give the job its one result.
			w.log.ErrorContext(jobCtx, "lifecycle refused the job", "job_stream", job.Stream,
				"job_id", job.ID, "game_id", game, "op_kind", kind, "err", err)
			return ports.JobResult{GameID: game, OpKind: kind, Outcome: core.OutcomeFailure,
				ErrorCode: core.CodeInternal, ErrorMessage: err.Error()}, true
		}
		// A held lease and an unreachable dependency are worth waiting
		// out: the operations are idempotent, and the job keeps one result.
		retry := res.Busy || res.ErrorCode == core.CodeServiceUnavailable
		if retry && time.Now().Before(deadline) {
			if !wait.waitUntil(runCtx, deadline) {
				if runCtx.Err() != nil {
					w.log.InfoContext(jobCtx, "job waiting on a busy game left pending: the worker is stopping",
						"job_stream", job.Stream, "job_id", job.ID, "game_id", game)
					return ports.JobResult{}, false
				}
			}
			continue
		}
		return ports.JobResult{GameID: game, OpKind: kind, Outcome: res.Outcome, ErrorCode: res.ErrorCode,
			ErrorMessage: res.ErrorMessage, ContainerID: res.Record.ContainerID, Endpoint: res.Record.Endpoint}, true
	}
}

// complete writes r and acknowledges job, retrying for CompleteRetry. If it
// cannot, the job stays pending and is handled again after a claim.
func (w *Worker) complete(ctx context.Context, job ports.Job, r ports.JobResult) {
	deadline := time.Now().Add(w.cfg.CompleteRetry)
	wait := backoff{base: 100 * time.Millisecond, limit: 2 * time.Second}
	for {
		err := w.completeOne(ctx, job, r)
		if err == nil {
			w.log.DebugContext(ctx, "job completed", "job_stream", job.Stream, "job_id", job.ID,
				"game_id", r.GameID, "op_kind", r.OpKind, "outcome", r.Outcome, "error_code", r.ErrorCode)
			return
		}
		if !time.Now().Before(deadline) || !wait.waitUntil(ctx, deadline) {
			w.log.ErrorContext(ctx, "write job result; the job stays pending and will be handled again",
				"job_stream", job.Stream, "job_id", job.ID, "game_id", r.GameID, "op_kind", r.OpKind, "err", err)
			return
		}
	}
}

// backoff is a jittered exponential delay.
type backoff struct {
	base, limit time.Duration
	next        time.Duration
}

func (b *backoff) reset() { b.next = 0 }

// delay returns the next delay: base, doubling up to limit, ±25 % jitter.
func (b *backoff) delay() time.Duration {
	if b.next == 0 {
		b.next = b.base
	}
	d := b.next
	b.next = min(2*b.next, b.limit)
	return d - d/4 + rand.N(d/2+1)
}

// wait sleeps for the next delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	return b.sleep(ctx, b.delay())
}

// waitUntil sleeps for the next delay, but not past deadline; false when
// ctx ended first or the deadline was reached.
func (b *backoff) waitUntil(ctx context.Context, deadline time.Time) bool {
	d := min(b.delay(), time.Until(deadline))
	if d <= 0 {
		return false
	}
	return b.sleep(ctx, d) && time.Now().Before(deadline)
}

func (b *backoff) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// clip shortens s to at most maxResultGameID bytes of valid UTF-8.
func clip(s string) string {
	if len(s) > maxResultGameID {
		s = s[:maxResultGameID]
	}
	return strings.ToValidUTF8(s, "")
}

// sortBySeq orders jobs by their stream order (the time the producers
// added them), across both streams; a start and a stop with the same id
// run start first, as core.JobNewer orders them.
func (w *Worker) sortBySeq(jobs []ports.Job) {
	slices.SortStableFunc(jobs, func(a, b ports.Job) int {
		if c := a.Seq.Compare(b.Seq); c != 0 {
			return c
		}
		return cmp.Compare(w.streamRank(a), w.streamRank(b))
	})
}

// streamRank orders the job streams for jobs with the same id.
func (w *Worker) streamRank(j ports.Job) int {
	if j.Stream == w.cfg.StartStream {
		return 0
	}
	return 1
}
