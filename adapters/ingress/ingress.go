// Package ingress is the stream worker: it reads lifecycle jobs from the
// runtime:start_jobs and runtime:stop_jobs streams (through ports.JobQueue),
// runs them on a bounded pool of workers against the lifecycle services,
// and writes exactly one runtime:job_results entry per job.
//
// Delivery semantics:
//   - A job is acknowledged only together with its result (JobQueue.Complete
//     does both atomically). When Complete keeps failing, the job stays
//     pending and is handled again after a claim; lifecycle operations are
//     idempotent, so the second result is a replay.
//   - A malformed entry (missing, empty, oversized or unknown fields, an
//     unknown stop reason, an env that is not a JSON object of strings, an
//     invalid game_id or image_ref) gets a failure result with
//     invalid_request and is acknowledged; it is never retried.
//   - A job that meets the game's lease held by another operation
//     (lifecycle.Result.Busy) is retried with backoff, unacknowledged, for
//     up to ConflictRetry; then its conflict result is written. Conflicts of
//     the transition table are final at once.
//   - Entries left pending longer than ClaimIdle, by a dead instance or by
//     this one, are claimed and handled; the worker touches the entries it
//     is handling every ClaimIdle/3 so they never go idle, and a claimed
//     entry that it is still handling is skipped.
//   - A job delivered more than MaxDeliveries times (RTMANAGER_MAX_DELIVERIES)
//     is dead-lettered: it gets a failure result with internal and is
//     acknowledged without being run again. A panic while handling a job
//     is recovered, logged and counted; the job stays pending, so a job
//     that panics every time is dead-lettered after MaxDeliveries claims.
//   - Jobs of one game run one after another in stream-id order within an
//     instance, so a start followed by a stop of the same game is not
//     reordered by the pool. Across instances and redeliveries core keeps
//     the order: the job's Seq goes into lifecycle.Meta, and a job older
//     than one already decided for the game ends in conflict.
//   - When Run's context ends the worker stops reading, lets jobs already
//     running finish for up to StopGrace (their operations are not
//     cancelled before that), and leaves jobs not yet started, or waiting on
//     a lease, pending for a claim.
//
// The states and the four timers (claim, heartbeat, conflict retry,
// complete retry) are described in docs/architecture.md.
package ingress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultConcurrency   = 8
	DefaultBlock         = 2 * time.Second
	DefaultClaimIdle     = time.Minute
	DefaultConflictRetry = 30 * time.Second
	DefaultStopGrace     = 30 * time.Second
	DefaultCompleteRetry = 10 * time.Second
)

// Config holds the worker's collaborators and settings.
type Config struct {
	// Queue is the consumer of the job streams. Required.
	Queue ports.JobQueue
	// Services are the lifecycle services jobs run against. Required.
	Services *lifecycle.Services
	// Concurrency is the number of jobs handled at once.
	Concurrency int
	// Block is how long one Read waits for new entries.
	Block time.Duration
	// ClaimIdle is how long an entry sits pending before it is claimed
	// (RTMANAGER_CLAIM_IDLE); claims run every ClaimIdle/2, and the jobs
	// this worker handles are touched every ClaimIdle/3, so only a dead
	// instance's entries go idle that long.
	ClaimIdle time.Duration
	// ConflictRetry is how long a job that finds the game's lease held is
	// retried before it gets its conflict result.
	ConflictRetry time.Duration
	// StopGrace bounds how long Run waits, after its context ended, for
	// running jobs before it cancels them.
	StopGrace time.Duration
	// CompleteRetry is how long writing one result is retried before the
	// job is left pending for a claim.
	CompleteRetry time.Duration
	// MaxDeliveries is how often a job may be delivered before it is
	// dead-lettered (RTMANAGER_MAX_DELIVERIES); 0 means
	// DefaultMaxDeliveries.
	MaxDeliveries int
	// Telemetry counts recovered panics; nil means ports.NopTelemetry.
	Telemetry ports.Telemetry
	// StartStream and StopStream are the job streams' names as the queue
	// reports them in Job.Stream; empty means the names of SPEC §4.
	StartStream string
	StopStream  string
	// Now stamps finished_at; nil means time.Now.
	Now func() time.Time
	// Unbatched writes every job's result with its own Complete, as before
	// issue 17; by default results of jobs finishing at the same moment
	// share one ports.BatchCompleter call when the queue has it. For
	// side-by-side measurements only.
	Unbatched bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Worker consumes the job streams. Create it with New and run it with Run.
type Worker struct {
	cfg Config
	log *slog.Logger

	completions *ports.Coalescer[ports.Completion, completed]

	mu       sync.Mutex
	inflight map[string]ports.Job
	tails    map[string]chan struct{}
}

// New validates cfg, applies defaults and returns the worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Queue == nil {
		return nil, errors.New("ingress: nil Queue")
	}
	if cfg.Services == nil || cfg.Services.Start == nil || cfg.Services.Stop == nil {
		return nil, errors.New("ingress: nil Services")
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("ingress: negative Concurrency %d", cfg.Concurrency)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxDeliveries < 0 {
		return nil, fmt.Errorf("ingress: negative MaxDeliveries %d", cfg.MaxDeliveries)
	}
	if cfg.MaxDeliveries == 0 {
		cfg.MaxDeliveries = DefaultMaxDeliveries
	}
	if cfg.Telemetry == nil {
		cfg.Telemetry = ports.NopTelemetry{}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
		key string
	}{
		{&cfg.Block, DefaultBlock, "Block"},
		{&cfg.ClaimIdle, DefaultClaimIdle, "ClaimIdle"},
		{&cfg.ConflictRetry, DefaultConflictRetry, "ConflictRetry"},
		{&cfg.StopGrace, DefaultStopGrace, "StopGrace"},
		{&cfg.CompleteRetry, DefaultCompleteRetry, "CompleteRetry"},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("ingress: negative %s %s", d.key, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.StartStream == "" {
		cfg.StartStream = ports.StreamStartJobs
	}
	if cfg.StopStream == "" {
		cfg.StopStream = ports.StreamStopJobs
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Worker{cfg: cfg, log: cfg.Logger.With("component", "ingress"),
		completions: newCompletions(cfg.Queue, cfg.Unbatched),
		inflight:    map[string]ports.Job{}, tails: map[string]chan struct{}{}}, nil
}

// Run reads and handles jobs until ctx ends, then drains (see the package
// documentation) and returns nil. Queue errors are logged and retried with
// backoff; they do not end Run.
func (w *Worker) Run(ctx context.Context) error {
	if ctx == nil {
		return errors.New("ingress: nil context")
	}
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	slots := make(chan struct{}, w.cfg.Concurrency)
	for range w.cfg.Concurrency {
		slots <- struct{}{}
	}
	var wg sync.WaitGroup
	heartbeat := make(chan struct{})
	go w.heartbeat(jobCtx, heartbeat)
	defer func() { <-heartbeat }()
	claimEvery := max(w.cfg.ClaimIdle/2, 10*time.Millisecond)
	nextClaim := time.Now()
	fails := backoff{base: 100 * time.Millisecond, limit: 5 * time.Second}
	w.log.InfoContext(ctx, "stream worker started", "concurrency", w.cfg.Concurrency,
		"claim_idle", w.cfg.ClaimIdle.String(), "conflict_retry", w.cfg.ConflictRetry.String())
	for {
		n := take(ctx, slots)
		if n == 0 {
			break
		}
		var jobs []ports.Job
		var err error
		if !time.Now().Before(nextClaim) {
			nextClaim = time.Now().Add(claimEvery)
			jobs, err = w.fetch(ctx, whereClaim, func() ([]ports.Job, error) { return w.cfg.Queue.Claim(ctx, w.cfg.ClaimIdle, n) })
			if err != nil && ctx.Err() == nil {
				w.log.WarnContext(ctx, "claim idle jobs", "err", err)
			}
			jobs = w.notInFlight(jobs)
		}
		if len(jobs) == 0 {
			block := min(w.cfg.Block, max(time.Until(nextClaim), time.Millisecond))
			jobs, err = w.fetch(ctx, whereRead, func() ([]ports.Job, error) { return w.cfg.Queue.Read(ctx, n, block) })
		}
		if err != nil && len(jobs) == 0 {
			give(slots, n)
			if ctx.Err() != nil {
				break
			}
			w.log.WarnContext(ctx, "read jobs", "err", err)
			if !fails.wait(ctx) {
				break
			}
			continue
		}
		fails.reset()
		w.sortBySeq(jobs)
		started := 0
		for _, job := range jobs {
			if started == n {
				// A queue returned more than asked; the rest stays pending.
				break
			}
			if w.dispatch(ctx, jobCtx, &wg, slots, job) {
				started++
			}
		}
		give(slots, n-started)
	}
	w.drain(&wg, cancelJobs)
	cancelJobs() // ends the heartbeat
	w.log.Info("stream worker stopped")
	return nil
}

// heartbeat touches the jobs in flight every third of ClaimIdle, so a job
// that runs longer than ClaimIdle (a slow pull, a start waiting on a busy
// lease) is never claimed by another instance while it runs. It closes
// done when ctx ends.
func (w *Worker) heartbeat(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(max(w.cfg.ClaimIdle/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		jobs := make([]ports.Job, 0, len(w.inflight))
		for _, j := range w.inflight {
			jobs = append(jobs, j)
		}
		w.mu.Unlock()
		if len(jobs) == 0 {
			continue
		}
		ports.Guard(ctx, w.cfg.Telemetry, w.log, whereHeartbeat, func() {
			if err := w.cfg.Queue.Touch(ctx, jobs); err != nil && ctx.Err() == nil {
				w.log.WarnContext(ctx, "touch jobs in flight", "jobs", len(jobs), "err", err)
			}
		})
	}
}

// drain waits for running jobs, cancelling them after StopGrace.
func (w *Worker) drain(wg *sync.WaitGroup, cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(w.cfg.StopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.log.Warn("jobs still running after the stop grace; cancelling them", "stop_grace", w.cfg.StopGrace.String())
		cancel()
		<-done
	}
}

// take waits for one free slot and grabs every other free one; it returns
// 0 when ctx ends first.
func take(ctx context.Context, slots chan struct{}) int {
	select {
	case <-ctx.Done():
		return 0
	case <-slots:
	}
	n := 1
	for {
		select {
		case <-slots:
			n++
		default:
			return n
		}
	}
}

// give returns n slots.
func give(slots chan struct{}, n int) {
	for range n {
		slots <- struct{}{}
	}
}

func jobKey(j ports.Job) string { return j.Stream + "\x00" + j.ID }

// notInFlight drops claimed jobs this worker is still handling.
func (w *Worker) notInFlight(jobs []ports.Job) []ports.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := jobs[:0]
	for _, j := range jobs {
		if _, busy := w.inflight[jobKey(j)]; !busy {
			out = append(out, j)
		}
	}
	return out
}

// dispatch starts job on its own goroutine, which holds one slot, unless
// it is already in flight. Jobs of one game are chained in dispatch order.
func (w *Worker) dispatch(runCtx, jobCtx context.Context, wg *sync.WaitGroup, slots chan struct{}, job ports.Job) bool {
	key, game := jobKey(job), job.Fields[FieldGameID]
	done := make(chan struct{})
	w.mu.Lock()
	if _, busy := w.inflight[key]; busy {
		w.mu.Unlock()
		return false
	}
	w.inflight[key] = job
	prev := w.tails[game]
	w.tails[game] = done
	w.mu.Unlock()
	wg.Add(1)
	go func() {
		defer func() {
			close(done)
			w.mu.Lock()
			delete(w.inflight, key)
			if w.tails[game] == done {
				delete(w.tails, game)
			}
			w.mu.Unlock()
			slots <- struct{}{}
			wg.Done()
		}()
		if prev != nil {
			select {
			case <-prev:
			case <-runCtx.Done():
			}
		}
		if runCtx.Err() != nil {
			w.log.Info("job left pending for a claim: the worker is stopping",
				"job_stream", job.Stream, "job_id", job.ID)
			return
		}
		w.handle(runCtx, jobCtx, job)
	}()
	return true
}
