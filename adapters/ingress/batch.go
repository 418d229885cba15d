package ingress

import (
	"context"
	"errors"

	"github.com/galaxy-game/rtmanager/ports"
)

// maxCompleteBatch caps the results written by one script.
const maxCompleteBatch = 256

// completions coalesces the results of jobs that finish at the same moment
// into one ports.BatchCompleter call (ports.Coalescer; a job finishing
// alone is one Complete, as before). Every job keeps Complete's meaning —
// its result and acknowledgement in one atomic step, written once — so the
// batch only saves round trips. Nil when the queue cannot batch or
// Config.Unbatched is set.
func newCompletions(q ports.JobQueue, unbatched bool) *ports.Coalescer[ports.Completion, completed] {
	bc, ok := q.(ports.BatchCompleter)
	if !ok || unbatched {
		return nil
	}
	return &ports.Coalescer[ports.Completion, completed]{Max: maxCompleteBatch, Timeout: DefaultCompleteRetry,
		Flush: func(ctx context.Context, cs []ports.Completion) ([]completed, error) {
			out := make([]completed, len(cs))
			if len(cs) == 1 {
				out[0].err = q.Complete(ctx, cs[0].Job, cs[0].Result)
				return out, nil
			}
			err := bc.CompleteMany(ctx, cs)
			if !errors.Is(err, ports.ErrInvalid) {
				for i := range out {
					out[i].err = err
				}
				return out, nil
			}
			// One completion the queue refuses must not hold back the
			// others: each goes alone and gets its own answer.
			for i, c := range cs {
				out[i].err = q.Complete(ctx, c.Job, c.Result)
			}
			return out, nil
		}}
}

// completed is the answer to one coalesced completion.
type completed struct{ err error }

// completeOne writes r for job through the batch when there is one.
func (w *Worker) completeOne(ctx context.Context, job ports.Job, r ports.JobResult) error {
	if w.completions == nil {
		return w.cfg.Queue.Complete(ctx, job, r)
	}
	c, err := w.completions.Do(ctx, ports.Completion{Job: job, Result: r})
	if err != nil {
		return err
	}
	return c.err
}
