package ports_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// TestCoalescerBatchesConcurrentCalls: calls made while a flush is in
// flight go together in the next flush, each gets its own answer, and no
// batch exceeds Max.
func TestCoalescerBatchesConcurrentCalls(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	c := &ports.Coalescer[int, int]{Max: 8, Flush: func(_ context.Context, in []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(in))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release // hold the first flush until the others queued
		}
		out := make([]int, len(in))
		for i, v := range in {
			out[i] = v * 10
		}
		return out, nil
	}}
	const n = 21
	var wg sync.WaitGroup
	got := make([]int, n)
	wg.Add(1)
	go func() { defer wg.Done(); got[0], _ = c.Do(t.Context(), 0) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 })
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = c.Do(t.Context(), i) }()
	}
	waitFor(t, func() bool { return ports.Queued(c) == n-1 })
	close(release)
	wg.Wait()
	for i, v := range got {
		if v != i*10 {
			t.Fatalf("call %d got %d, want %d", i, v, i*10)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 8, 8, 4}; !equal(sizes, want) {
		t.Fatalf("batch sizes %v, want %v", sizes, want)
	}
}

// TestCoalescerErrors: a failed flush fails every call of its batch, and
// a flush that answers for too few calls fails them too.
func TestCoalescerErrors(t *testing.T) {
	boom := errors.New("boom")
	c := &ports.Coalescer[int, int]{Flush: func(_ context.Context, in []int) ([]int, error) { return nil, boom }}
	if _, err := c.Do(t.Context(), 1); !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want boom", err)
	}
	short := &ports.Coalescer[int, int]{Flush: func(context.Context, []int) ([]int, error) { return nil, nil }}
	if _, err := short.Do(t.Context(), 1); err == nil {
		t.Fatal("a flush with too few results returned no error")
	}
}

// TestCoalescerPanicStaysWithItsCaller: when a batch panics because of one
// input, that input's caller panics (in its own goroutine, as a direct
// call would) and the other callers of the batch get their answers.
func TestCoalescerPanicStaysWithItsCaller(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	var sizes []int
	c := &ports.Coalescer[int, int]{Flush: func(_ context.Context, in []int) ([]int, error) {
		first.Do(func() { close(started); <-release })
		sizes = append(sizes, len(in)) // flushes run one at a time
		for _, v := range in {
			if v < 0 {
				panic(fmt.Sprintf("poison %d", v))
			}
		}
		return in, nil
	}}
	type answer struct {
		v        int
		panicked any
	}
	inputs := []int{0, 1, -1, 2}
	answers := make([]answer, len(inputs))
	var wg sync.WaitGroup
	do := func(i int) {
		defer wg.Done()
		defer func() { answers[i].panicked = recover() }()
		answers[i].v, _ = c.Do(t.Context(), inputs[i])
	}
	wg.Add(1)
	go do(0) // leads the first flush, held until the others queued
	<-started
	for i := 1; i < len(inputs); i++ {
		wg.Add(1)
		go do(i)
	}
	waitFor(t, func() bool { return ports.Queued(c) == len(inputs)-1 })
	close(release)
	wg.Wait()
	if want := []int{1, 3, 1, 1, 1}; !equal(sizes, want) {
		t.Fatalf("flush sizes %v, want %v (the poisoned batch of 3, then each alone)", sizes, want)
	}
	for i, a := range answers {
		if inputs[i] < 0 {
			if a.panicked != "poison -1" {
				t.Fatalf("poisonous call: panic %v, want poison -1", a.panicked)
			}
			continue
		}
		if a.panicked != nil || a.v != inputs[i] {
			t.Fatalf("call %d: %d, panic %v; want %d and no panic", i, a.v, a.panicked, inputs[i])
		}
	}
}

// TestCoalescerWaitsOutCancelledCaller: a caller whose context ends while
// its batch of several is flushed still gets the flush's answer (it may
// have taken a lease for it), and the flush does not see the
// cancellation; a call flushed alone sees its caller's context, as a
// direct call; a caller whose context already ended is refused before
// anything is queued.
func TestCoalescerWaitsOutCancelledCaller(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	var mu sync.Mutex
	ctxErrs := map[int]error{}
	c := &ports.Coalescer[int, int]{Flush: func(ctx context.Context, in []int) ([]int, error) {
		first.Do(func() { close(started); <-release })
		mu.Lock()
		ctxErrs[len(in)] = ctx.Err()
		mu.Unlock()
		out := make([]int, len(in))
		for i := range out {
			out[i] = 7
		}
		return out, nil
	}}
	lead, cancelLead := context.WithCancel(t.Context())
	done := make(chan int, 3)
	go func() { v, _ := c.Do(lead, 0); done <- v }()
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	for i := 1; i <= 2; i++ {
		go func() { v, _ := c.Do(ctx, i); done <- v }()
	}
	waitFor(t, func() bool { return ports.Queued(c) == 2 })
	cancel()
	cancelLead()
	close(release)
	for range 3 {
		if v := <-done; v != 7 {
			t.Fatalf("a caller got %d, want the flush's 7", v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(ctxErrs[1], context.Canceled) || ctxErrs[2] != nil {
		t.Fatalf("flush contexts: alone %v, batch of two %v; want canceled and none", ctxErrs[1], ctxErrs[2])
	}
	if _, err := c.Do(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with an ended context = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
