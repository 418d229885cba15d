// Package leasetest is the contract suite of ports.LeaseStore. Every lease
// store (in-memory, Redis, the embedded Redis) runs it from its own tests
// with a Harness that says how to make time pass: a fake clock moves
// instantly, a real Redis waits out a short TTL.
package leasetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// Harness binds the suite to one implementation.
type Harness struct {
	// New returns the lease store a subtest runs against. It is called once
	// per subtest; it should register any cleanup with t.Cleanup.
	New func(t *testing.T) ports.LeaseStore
	// TTL is the lifetime of leases that must not expire during a subtest;
	// zero means one minute.
	TTL time.Duration
	// ShortTTL is the lifetime of leases a subtest lets expire. The suite
	// calls Advance(2*ShortTTL) to expire them. Required.
	ShortTTL time.Duration
	// Advance makes at least d pass for every store New returned: it moves
	// a fake clock, or waits in real time. Required.
	Advance func(d time.Duration)
}

// Run runs every contract case against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Advance == nil || h.ShortTTL <= 0 {
		t.Fatalf("leasetest: Harness needs New, Advance and a positive ShortTTL")
	}
	if h.TTL <= 0 {
		h.TTL = time.Minute
	}
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness, l ports.LeaseStore)
	}{
		{"AcquireFree", testAcquireFree},
		{"AcquireHeld", testAcquireHeld},
		{"AcquireTwiceBySameToken", testAcquireSameToken},
		{"ReleaseWrongToken", testReleaseWrongToken},
		{"ReleaseRightToken", testReleaseRightToken},
		{"ReleaseUnheld", testReleaseUnheld},
		{"Renew", testRenew},
		{"RenewExtends", testRenewExtends},
		{"RenewAfterExpiry", testRenewAfterExpiry},
		{"ExpiredTakenOver", testExpiredTakenOver},
		{"GamesIndependent", testGamesIndependent},
		{"AcquireRace", testAcquireRace},
	}
	for _, c := range append(cases, batchCases...) {
		t.Run(c.name, func(t *testing.T) { c.run(t, h, h.New(t)) })
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// newGame returns a unique game id; newToken a unique token.
func newGame() string  { return "lease-" + randomHex(6) }
func newToken() string { return "token-" + randomHex(8) }

func acquire(t *testing.T, l ports.LeaseStore, game, token string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := l.TryAcquire(t.Context(), game, token, ttl)
	if err != nil {
		t.Fatalf("TryAcquire(%s, %s): %v", game, token, err)
	}
	if got != want {
		t.Fatalf("TryAcquire(%s, %s) = %v, want %v", game, token, got, want)
	}
}

func renew(t *testing.T, l ports.LeaseStore, game, token string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := l.Renew(t.Context(), game, token, ttl)
	if err != nil {
		t.Fatalf("Renew(%s, %s): %v", game, token, err)
	}
	if got != want {
		t.Fatalf("Renew(%s, %s) = %v, want %v", game, token, got, want)
	}
}

func release(t *testing.T, l ports.LeaseStore, game, token string) {
	t.Helper()
	if err := l.Release(t.Context(), game, token); err != nil {
		t.Fatalf("Release(%s, %s): %v", game, token, err)
	}
}

func testAcquireFree(t *testing.T, h Harness, l ports.LeaseStore) {
	acquire(t, l, newGame(), newToken(), h.TTL, true)
}

func testAcquireHeld(t *testing.T, h Harness, l ports.LeaseStore) {
	game := newGame()
	acquire(t, l, game, newToken(), h.TTL, true)
	acquire(t, l, game, newToken(), h.TTL, false)
}

func testAcquireSameToken(t *testing.T, h Harness, l ports.LeaseStore) {
	// SET NX semantics: a held lease is not acquired again, not even by
	// its holder, who renews instead.
	game, token := newGame(), newToken()
	acquire(t, l, game, token, h.TTL, true)
	acquire(t, l, game, token, h.TTL, false)
	renew(t, l, game, token, h.TTL, true)
}

func testReleaseWrongToken(t *testing.T, h Harness, l ports.LeaseStore) {
	game, holder := newGame(), newToken()
	acquire(t, l, game, holder, h.TTL, true)
	release(t, l, game, newToken())
	acquire(t, l, game, newToken(), h.TTL, false)
	renew(t, l, game, holder, h.TTL, true)
}

func testReleaseRightToken(t *testing.T, h Harness, l ports.LeaseStore) {
	game, holder := newGame(), newToken()
	acquire(t, l, game, holder, h.TTL, true)
	release(t, l, game, holder)
	renew(t, l, game, holder, h.TTL, false)
	acquire(t, l, game, newToken(), h.TTL, true)
}

func testReleaseUnheld(t *testing.T, h Harness, l ports.LeaseStore) {
	game := newGame()
	release(t, l, game, newToken())
	acquire(t, l, game, newToken(), h.TTL, true)
}

func testRenew(t *testing.T, h Harness, l ports.LeaseStore) {
	game, holder := newGame(), newToken()
	acquire(t, l, game, holder, h.TTL, true)
	renew(t, l, game, holder, h.TTL, true)
	renew(t, l, game, newToken(), h.TTL, false)
	renew(t, l, newGame(), holder, h.TTL, false)
	// A failed renew by another token changes nothing.
	acquire(t, l, game, newToken(), h.TTL, false)
	renew(t, l, game, holder, h.TTL, true)
}

func testRenewExtends(t *testing.T, h Harness, l ports.LeaseStore) {
	game, holder := newGame(), newToken()
	acquire(t, l, game, holder, h.ShortTTL, true)
	renew(t, l, game, holder, h.TTL, true)
	h.Advance(2 * h.ShortTTL) // past the first expiry, well before the renewed one
	acquire(t, l, game, newToken(), h.TTL, false)
	renew(t, l, game, holder, h.TTL, true)
}

func testRenewAfterExpiry(t *testing.T, h Harness, l ports.LeaseStore) {
	game, holder := newGame(), newToken()
	acquire(t, l, game, holder, h.ShortTTL, true)
	h.Advance(2 * h.ShortTTL)
	renew(t, l, game, holder, h.TTL, false)
	// The failed renew did not revive the lease.
	acquire(t, l, game, newToken(), h.TTL, true)
}

func testExpiredTakenOver(t *testing.T, h Harness, l ports.LeaseStore) {
	game, first, second := newGame(), newToken(), newToken()
	acquire(t, l, game, first, h.ShortTTL, true)
	h.Advance(2 * h.ShortTTL)
	acquire(t, l, game, second, h.TTL, true)
	// The first holder can neither renew nor release the new lease.
	renew(t, l, game, first, h.TTL, false)
	release(t, l, game, first)
	acquire(t, l, game, newToken(), h.TTL, false)
	renew(t, l, game, second, h.TTL, true)
}

func testGamesIndependent(t *testing.T, h Harness, l ports.LeaseStore) {
	a, b, token := newGame(), newGame(), newToken()
	acquire(t, l, a, token, h.TTL, true)
	acquire(t, l, b, newToken(), h.TTL, true)
	release(t, l, a, token)
	acquire(t, l, b, newToken(), h.TTL, false)
}

func testAcquireRace(t *testing.T, h Harness, l ports.LeaseStore) {
	const racers = 100
	game := newGame()
	won := make([]bool, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			won[i], errs[i] = l.TryAcquire(t.Context(), game, fmt.Sprintf("racer-%d-%s", i, randomHex(4)), h.TTL)
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range racers {
		if errs[i] != nil {
			t.Errorf("racer %d: TryAcquire: %v", i, errs[i])
		}
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d racers acquired the lease, want exactly 1", winners)
	}
}
