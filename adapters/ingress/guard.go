package ingress

import (
	"context"
	"fmt"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// DefaultMaxDeliveries is Config.MaxDeliveries when it is zero
// (RTMANAGER_MAX_DELIVERIES, SPEC §4).
const DefaultMaxDeliveries = 5

// Panic sites counted in rtmanager_panics_total{where}.
const (
	whereJob       = "ingress_job"
	whereHeartbeat = "ingress_heartbeat"
	whereClaim     = "ingress_claim"
	whereRead      = "ingress_read"
)

// handle runs one job, unless it was delivered more than MaxDeliveries
// times: then it is dead-lettered. A panic while handling is recovered
// (logged with its stack, counted) and leaves the job pending without a
// result, so it is claimed again after ClaimIdle with one more delivery;
// a job that panics every time is dead-lettered once it exceeds
// MaxDeliveries, and the worker keeps serving other jobs meanwhile.
func (w *Worker) handle(runCtx, jobCtx context.Context, job ports.Job) {
	if job.Deliveries > int64(w.cfg.MaxDeliveries) {
		w.deadLetter(jobCtx, job)
		return
	}
	log := w.log.With("job_stream", job.Stream, "job_id", job.ID, "deliveries", job.Deliveries)
	if ports.Guard(jobCtx, w.cfg.Telemetry, log, whereJob, func() { w.process(runCtx, jobCtx, job) }) {
		log.ErrorContext(jobCtx, "job handling panicked; it stays pending and is retried after a claim until it exceeds the delivery limit",
			"max_deliveries", w.cfg.MaxDeliveries)
	}
}

// deadLetter gives a job delivered too often its one failure result
// (internal) and acknowledges it, without running it again.
func (w *Worker) deadLetter(ctx context.Context, job ports.Job) {
	kind := core.OpKind("")
	switch job.Stream {
	case w.cfg.StartStream:
		kind = core.OpStart
	case w.cfg.StopStream:
		kind = core.OpStop
	}
	msg := fmt.Sprintf("job delivered %d times, more than the limit of %d (RTMANAGER_MAX_DELIVERIES): dead-lettered without running it again",
		job.Deliveries, w.cfg.MaxDeliveries)
	w.log.ErrorContext(ctx, "job dead-lettered", "job_stream", job.Stream, "job_id", job.ID,
		"game_id", clip(job.Fields[FieldGameID]), "op_kind", kind, "deliveries", job.Deliveries,
		"max_deliveries", w.cfg.MaxDeliveries)
	r := ports.JobResult{JobStream: job.Stream, JobID: job.ID, GameID: clip(job.Fields[FieldGameID]), OpKind: kind,
		Outcome: core.OutcomeFailure, ErrorCode: core.CodeInternal, ErrorMessage: msg, FinishedAt: w.cfg.Now().UTC()}
	w.complete(ctx, job, r)
}

// fetch runs one Claim or Read of the queue under ports.Guard; a panic
// becomes an error, so Run backs off and carries on.
func (w *Worker) fetch(ctx context.Context, where string, f func() ([]ports.Job, error)) (jobs []ports.Job, err error) {
	if ports.Guard(ctx, w.cfg.Telemetry, w.log, where, func() { jobs, err = f() }) {
		return nil, fmt.Errorf("ingress: %s panicked", where)
	}
	return jobs, err
}
