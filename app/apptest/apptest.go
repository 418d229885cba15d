// Package apptest opens and runs an app.Main for tests: the one place the
// app tests (package app and its commands) get a serving instance from.
package apptest

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/app"
)

// openTimeout bounds Open: a dependency that does not answer fails the
// test instead of hanging it.
const openTimeout = 60 * time.Second

// Open opens m and closes it when the test ends; a failed Open fails the
// test. Close may also be called earlier (it is idempotent).
func Open(t testing.TB, m *app.Main) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := m.Open(ctx); err != nil {
		m.Close()
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
}

// stopTimeout bounds the Run that Serve's cleanup ends.
const stopTimeout = 60 * time.Second

// Running is a Main opened and running until Stop or the test's end.
type Running struct {
	cancel context.CancelFunc
	done   chan error
}

// Serve opens m (Open) and runs it until the test ends or Stop is called;
// a Run that ends with an error fails the test.
func Serve(t testing.TB, m *app.Main) *Running {
	t.Helper()
	Open(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	// Registered after Open's Close, so it runs first: Run ends, then Close.
	t.Cleanup(func() {
		if err := r.Stop(t, stopTimeout); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// Stop cancels Run and returns its error, failing the test when Run has
// not returned within d of the cancel. Once Run has returned, later calls
// return nil at once.
func (r *Running) Stop(t testing.TB, d time.Duration) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %s of the cancel", d)
		return nil
	}
}
