package leasetest

import (
	"slices"
	"testing"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// batchCases check ports.LeaseBatcher where the store has it: every claim
// of a batch means what the single call means.
var batchCases = []struct {
	name string
	run  func(t *testing.T, h Harness, l ports.LeaseStore)
}{
	{"AcquireManyMixed", testAcquireManyMixed},
	{"AcquireManySameGame", testAcquireManySameGame},
	{"ReleaseManyOnlyOwn", testReleaseManyOnlyOwn},
	{"AcquireManyExpires", testAcquireManyExpires},
}

func acquireMany(t *testing.T, lb ports.LeaseBatcher, claims []ports.LeaseClaim, want []bool) {
	t.Helper()
	got, err := lb.TryAcquireMany(t.Context(), claims)
	if err != nil {
		t.Fatalf("TryAcquireMany: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("TryAcquireMany = %v, want %v", got, want)
	}
}

// testAcquireManyMixed: free games are taken, a held one is not, and the
// batch's holders can renew exactly what they took.
func testAcquireManyMixed(t *testing.T, h Harness, l ports.LeaseStore) {
	lb := testenv.Capability[ports.LeaseBatcher](t, l)
	held, other := newGame(), newToken()
	acquire(t, l, held, other, h.TTL, true)
	a, b := newGame(), newGame()
	ta, tb, th := newToken(), newToken(), newToken()
	acquireMany(t, lb, []ports.LeaseClaim{{GameID: a, Token: ta, TTL: h.TTL}, {GameID: held, Token: th, TTL: h.TTL},
		{GameID: b, Token: tb, TTL: h.TTL}}, []bool{true, false, true})
	renew(t, l, a, ta, h.TTL, true)
	renew(t, l, b, tb, h.TTL, true)
	renew(t, l, held, th, h.TTL, false)
	renew(t, l, held, other, h.TTL, true)
}

// testAcquireManySameGame: two claims of one game in a batch, the first
// wins.
func testAcquireManySameGame(t *testing.T, h Harness, l ports.LeaseStore) {
	lb := testenv.Capability[ports.LeaseBatcher](t, l)
	g, first, second := newGame(), newToken(), newToken()
	acquireMany(t, lb, []ports.LeaseClaim{{GameID: g, Token: first, TTL: h.TTL}, {GameID: g, Token: second, TTL: h.TTL}},
		[]bool{true, false})
	renew(t, l, g, first, h.TTL, true)
	renew(t, l, g, second, h.TTL, false)
}

// testReleaseManyOnlyOwn: a batch release drops the leases its tokens hold
// and leaves a lease held by another token.
func testReleaseManyOnlyOwn(t *testing.T, h Harness, l ports.LeaseStore) {
	lb := testenv.Capability[ports.LeaseBatcher](t, l)
	a, b, unheld := newGame(), newGame(), newGame()
	ta, holder := newToken(), newToken()
	acquire(t, l, a, ta, h.TTL, true)
	acquire(t, l, b, holder, h.TTL, true)
	err := lb.ReleaseMany(t.Context(), []ports.LeaseClaim{{GameID: a, Token: ta}, {GameID: b, Token: newToken()},
		{GameID: unheld, Token: newToken()}})
	if err != nil {
		t.Fatalf("ReleaseMany: %v", err)
	}
	acquire(t, l, a, newToken(), h.TTL, true)
	acquire(t, l, b, newToken(), h.TTL, false)
	renew(t, l, b, holder, h.TTL, true)
	if err := lb.ReleaseMany(t.Context(), nil); err != nil {
		t.Fatalf("ReleaseMany(nil): %v", err)
	}
}

// testAcquireManyExpires: a lease taken in a batch carries its claim's
// ttl.
func testAcquireManyExpires(t *testing.T, h Harness, l ports.LeaseStore) {
	lb := testenv.Capability[ports.LeaseBatcher](t, l)
	short, long := newGame(), newGame()
	acquireMany(t, lb, []ports.LeaseClaim{{GameID: short, Token: newToken(), TTL: h.ShortTTL},
		{GameID: long, Token: newToken(), TTL: h.TTL}}, []bool{true, true})
	h.Advance(2 * h.ShortTTL)
	acquire(t, l, short, newToken(), h.TTL, true)
	acquire(t, l, long, newToken(), h.TTL, false)
}
