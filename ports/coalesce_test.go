package ports_test

import (
	"context"
	"errors"
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

// TestCoalescerErrorsAndPanics: a failed flush fails every call of its
// batch; a panicking one too, without hanging them.
func TestCoalescerErrorsAndPanics(t *testing.T) {
	boom := errors.New("boom")
	c := &ports.Coalescer[int, int]{Flush: func(_ context.Context, in []int) ([]int, error) {
		if in[0] < 0 {
			panic("negative")
		}
		return nil, boom
	}}
	if _, err := c.Do(t.Context(), 1); !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want boom", err)
	}
	if _, err := c.Do(t.Context(), -1); err == nil {
		t.Fatal("a panicking flush returned no error")
	}
	short := &ports.Coalescer[int, int]{Flush: func(context.Context, []int) ([]int, error) { return nil, nil }}
	if _, err := short.Do(t.Context(), 1); err == nil {
		t.Fatal("a flush with too few results returned no error")
	}
}

// TestCoalescerWaitsOutCancelledCaller: a caller whose context ends while
// its flush runs still gets the flush's answer (it may have taken a lease
// for it), and the flush does not see the cancellation; a caller whose
// context already ended is refused before anything is queued.
func TestCoalescerWaitsOutCancelledCaller(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var flushCtxErr error
	calls := 0
	c := &ports.Coalescer[int, int]{Flush: func(ctx context.Context, in []int) ([]int, error) {
		calls++
		close(started)
		<-release
		flushCtxErr = ctx.Err()
		return []int{7}, nil
	}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() { v, _ := c.Do(ctx, 1); done <- v }()
	<-started
	cancel()
	close(release)
	if v := <-done; v != 7 {
		t.Fatalf("cancelled caller got %d, want the flush's 7", v)
	}
	if flushCtxErr != nil {
		t.Fatalf("flush saw %v", flushCtxErr)
	}
	if _, err := c.Do(ctx, 2); !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Do with an ended context = %v after %d flushes", err, calls)
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
