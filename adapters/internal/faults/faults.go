// Package faults counts the calls of named methods of a fake and fails them
// on demand. The in-memory fakes (adapters/memory, adapters/fakedriver)
// share it.
package faults

import (
	"fmt"
	"sync"

	"github.com/galaxy-game/rtmanager/ports"
)

// Set counts the calls of named methods and fails them on demand. Its
// methods are called by the fakes that own it.
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

// Fail installs a rule for method; err nil means an error wrapping
// ports.ErrUnavailable.
func (f *Set) Fail(method string, skip, left int, err error) {
	f.mustKnow(method)
	if err == nil {
		err = fmt.Errorf("%s %s: injected fault: %w", f.owner, method, ports.ErrUnavailable)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[method] = &rule{skip: skip, left: left, err: err}
}

// Heal removes every rule.
func (f *Set) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = map[string]*rule{}
}

// Count returns how many calls of method were made, failed ones included.
func (f *Set) Count(method string) int {
	f.mustKnow(method)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// Enter counts one call of method and returns the injected error, if any.
func (f *Set) Enter(method string) error {
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
