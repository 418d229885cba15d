package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/ports"
)

// Leases method names accepted by FailNext, FailNth, FailAlways and Calls.
const (
	MethodTryAcquire = "TryAcquire"
	MethodRenew      = "Renew"
	MethodRelease    = "Release"
)

// Leases is an in-memory ports.LeaseStore. A lease is held while the clock
// reads before its expiry, so tests move an injected clock instead of
// sleeping. Its embedded fault Set fails the methods named by the Method
// constants on demand and counts their calls; a failed call has no effect.
type Leases struct {
	*faults.Set
	now func() time.Time

	mu     sync.Mutex
	down   bool
	leases map[string]lease
}

type lease struct {
	token   string
	expires time.Time
}

var _ ports.LeaseStore = (*Leases)(nil)

// NewLeases returns an empty Leases reading time from now; nil means
// time.Now.
func NewLeases(now func() time.Time) *Leases {
	if now == nil {
		now = time.Now
	}
	return &Leases{Set: faults.New("memory leases", MethodTryAcquire, MethodRenew, MethodRelease,
		MethodTryAcquireMany, MethodReleaseMany),
		now: now, leases: map[string]lease{}}
}

// SetDown makes every call fail with an error wrapping ports.ErrUnavailable
// while down is true. Leases keep their state across an outage.
func (l *Leases) SetDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
}

// Holder returns the token holding gameID's lease, and false when nobody
// holds it (or it expired).
func (l *Leases) Holder(gameID string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le, ok := l.held(gameID)
	return le.token, ok
}

// check counts the call, applies injected faults and the down switch, and
// validates ctx and ttl; it runs under l.mu.
func (l *Leases) check(ctx context.Context, method, gameID string, ttl time.Duration, needTTL bool) error {
	if err := faults.Enter(l.Set, method); err != nil {
		return err
	}
	if l.down {
		return fmt.Errorf("memory leases %s %q: store is down: %w", method, gameID, ports.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory leases %s %q: %w", method, gameID, err)
	}
	if needTTL && ttl <= 0 {
		return fmt.Errorf("memory leases %s %q: ttl %v is not positive: %w", method, gameID, ttl, ports.ErrInvalid)
	}
	return nil
}

// held returns gameID's unexpired lease; it runs under l.mu.
func (l *Leases) held(gameID string) (lease, bool) {
	le, ok := l.leases[gameID]
	if !ok {
		return lease{}, false
	}
	if !l.now().Before(le.expires) {
		delete(l.leases, gameID)
		return lease{}, false
	}
	return le, true
}

// TryAcquire implements ports.LeaseStore. A non-positive ttl is an error
// wrapping ports.ErrInvalid, as Redis rejects it.
func (l *Leases) TryAcquire(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(ctx, MethodTryAcquire, gameID, ttl, true); err != nil {
		return false, err
	}
	if _, ok := l.held(gameID); ok {
		return false, nil
	}
	l.leases[gameID] = lease{token: token, expires: l.now().Add(ttl)}
	return true, nil
}

// Renew implements ports.LeaseStore.
func (l *Leases) Renew(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(ctx, MethodRenew, gameID, ttl, true); err != nil {
		return false, err
	}
	le, ok := l.held(gameID)
	if !ok || le.token != token {
		return false, nil
	}
	l.leases[gameID] = lease{token: token, expires: l.now().Add(ttl)}
	return true, nil
}

// Release implements ports.LeaseStore.
func (l *Leases) Release(ctx context.Context, gameID, token string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(ctx, MethodRelease, gameID, 0, false); err != nil {
		return err
	}
	if le, ok := l.held(gameID); ok && le.token == token {
		delete(l.leases, gameID)
	}
	return nil
}
