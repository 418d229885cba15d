package ports

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Coalescer merges calls that arrive while an earlier flush is in flight
// into one flush (group commit): the first caller flushes at once, alone;
// callers arriving meanwhile queue up and go together in the next flush,
// up to Max at a time. It adds no delay of its own — an idle system flushes
// every call alone — and under load one round trip serves many callers.
// Lifecycle batches lease acquisitions, lease releases and audit appends
// with it, the stream ingress its job results (docs/BENCHMARKS.md, P3).
//
// A call flushed alone runs under its caller's context, exactly as a
// direct call. A batch of several runs under the context of its first
// call, detached from its cancellation and bounded by Timeout, and Do
// returns only when its batch was flushed, even when the caller's context
// ends first: the flush may already have taken a lease or written an entry
// for it, and the caller must see that.
type Coalescer[T, R any] struct {
	// Flush runs one batch; it returns one result per input, in order, or
	// an error that every caller of the batch gets. Required.
	Flush func(ctx context.Context, in []T) ([]R, error)
	// Max caps a batch; 0 means 256.
	Max int
	// Timeout bounds one flush; 0 means 15s.
	Timeout time.Duration

	mu      sync.Mutex
	queue   []*coalesced[T, R]
	running bool
}

type coalesced[T, R any] struct {
	in       T
	out      R
	err      error
	panicked any
	ctx      context.Context
	done     chan struct{}
}

// Do queues in, flushes (or waits for the flush that takes it) and returns
// its result. A context that has already ended is refused before anything
// is queued.
func (c *Coalescer[T, R]) Do(ctx context.Context, in T) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	call := &coalesced[T, R]{in: in, ctx: ctx, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		c.flushNext()
	}
	<-call.done
	if call.panicked != nil {
		panic(call.panicked)
	}
	return call.out, call.err
}

// flushNext flushes one batch from the queue; when more calls queued up
// meanwhile, a new goroutine flushes them, so the caller that led this
// batch is not held up by later ones.
func (c *Coalescer[T, R]) flushNext() {
	limit := c.Max
	if limit <= 0 {
		limit = 256
	}
	c.mu.Lock()
	n := min(len(c.queue), limit)
	batch := c.queue[:n:n]
	c.queue = append([]*coalesced[T, R](nil), c.queue[n:]...)
	c.mu.Unlock()

	c.run(batch)

	c.mu.Lock()
	more := len(c.queue) > 0
	c.running = more
	c.mu.Unlock()
	if more {
		go c.flushNext()
	}
}

// run flushes batch and hands every call its result. When Flush panics
// on a batch of several calls, each call is flushed alone, so only the
// call that panics alone gets the panic, and Do re-raises it in that
// caller's goroutine: a poisonous input fails its own caller exactly as a
// direct call would (ports.Guard there recovers and counts it), never the
// others in its batch, and never the goroutine that flushed.
func (c *Coalescer[T, R]) run(batch []*coalesced[T, R]) {
	ctx := batch[0].ctx
	if len(batch) > 1 {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = 15 * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
	}
	in := make([]T, len(batch))
	for i, b := range batch {
		in[i] = b.in
	}
	out, panicked, err := c.flush(ctx, in)
	if panicked != nil && len(batch) > 1 {
		for _, b := range batch {
			c.run([]*coalesced[T, R]{b})
		}
		return
	}
	if panicked == nil && err == nil && len(out) != len(batch) {
		err = fmt.Errorf("coalesced flush returned %d results for %d calls", len(out), len(batch))
	}
	for i, b := range batch {
		switch {
		case panicked != nil:
			b.panicked = panicked
		case err != nil:
			b.err = err
		default:
			b.out = out[i]
		}
		close(b.done)
	}
}

// flush calls Flush, recovering a panic into panicked.
func (c *Coalescer[T, R]) flush(ctx context.Context, in []T) (out []R, panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
		}
	}()
	out, err = c.Flush(ctx, in)
	return out, nil, err
}
