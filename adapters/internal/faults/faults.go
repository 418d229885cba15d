// Package faults counts the calls of named methods of a fake and fails them
// on demand. The in-memory fakes (adapters/memory, adapters/fakedriver)
// embed a *Set, so a test calls FailNext, FailNth, FailAlways, Heal and
// Calls on the fake itself.
package faults

import (
	"fmt"
	"sync"

	"github.com/galaxy-game/rtmanager/ports"
)

// Set counts the calls of named methods and fails them on demand. A fake
// embeds it and calls Enter at the top of each faultable method.
type Set struct {
	owner string
	known map[string]bool

	mu    sync.Mutex
	calls map[string]int
	rules map[string]*rule
}

// rule fails the calls of one method: after skip more calls pass, the next
// left calls fail with err; left < 0 fails every call.
type rule struct {
	skip int
	left int
	err  error
}

// New returns a Set for the named methods of owner; naming any other
// method panics, which catches typos in tests.
func New(owner string, methods ...string) *Set {
	f := &Set{owner: owner, known: map[string]bool{}, calls: map[string]int{}, rules: map[string]*rule{}}
	for _, m := range methods {
		f.known[m] = true
	}
	return f
}

func (f *Set) mustKnow(method string) {
	if !f.known[method] {
		panic(fmt.Sprintf("%s: no method %q to fail or count", f.owner, method))
	}
}

// FailNext makes the next call of method fail with err before it has any
// effect; nil err means an error wrapping ports.ErrUnavailable. It replaces
// any fault set for method before.
func (f *Set) FailNext(method string, err error) { f.fail(method, 0, 1, err) }

// FailNth lets n-1 further calls of method pass and fails the nth with err
// (nil: an error wrapping ports.ErrUnavailable). n must be at least 1.
func (f *Set) FailNth(method string, n int, err error) {
	if n < 1 {
		panic(fmt.Sprintf("%s: FailNth needs n >= 1, got %d", f.owner, n))
	}
	f.fail(method, n-1, 1, err)
}

// FailAlways makes every call of method fail with err (nil: an error
// wrapping ports.ErrUnavailable) until Heal.
func (f *Set) FailAlways(method string, err error) { f.fail(method, 0, -1, err) }

// Heal removes every injected fault. It leaves the call counts and any
// outage switch of the fake (SetDown) as they are.
func (f *Set) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = map[string]*rule{}
}

// Calls returns how many times method was called, failed calls included.
func (f *Set) Calls(method string) int {
	f.mustKnow(method)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *Set) fail(method string, skip, left int, err error) {
	f.mustKnow(method)
	if err == nil {
		err = fmt.Errorf("%s %s: injected fault: %w", f.owner, method, ports.ErrUnavailable)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[method] = &rule{skip: skip, left: left, err: err}
}

// Enter counts one call of method on f and returns the injected error, if
// any. It is a function rather than a method so that embedding a Set does
// not add it to a fake's API.
func Enter(f *Set, method string) error {
	f.mustKnow(method)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	r := f.rules[method]
	if r == nil {
		return nil
	}
	if r.skip > 0 {
		r.skip--
		return nil
	}
	if r.left == 0 {
		return nil
	}
	if r.left > 0 {
		r.left--
	}
	return r.err
}
