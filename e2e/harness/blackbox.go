package harness

import (
	"testing"
	"time"
)

// Consistently polls cond every 50ms for the whole of d and fails tb the
// first time it does not hold: the negative twin of Eventually, for "this
// stays so" checks (a container is not removed, a record does not move).
func Consistently(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		if !cond() {
			tb.Fatalf("%s stopped holding within %s", what, d)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Await polls f every 50ms until it returns ok, failing tb after timeout,
// and returns the value f produced with it.
func Await[T any](tb testing.TB, timeout time.Duration, what string, f func() (T, bool)) T {
	tb.Helper()
	var v T
	Eventually(tb, timeout, what, func() bool {
		var ok bool
		v, ok = f()
		return ok
	})
	return v
}
