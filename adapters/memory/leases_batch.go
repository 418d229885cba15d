package memory

import (
	"context"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/ports"
)

// Batch method names accepted by FailNext, FailNth, FailAlways and Calls.
const (
	MethodTryAcquireMany = "TryAcquireMany"
	MethodReleaseMany    = "ReleaseMany"
)

var _ ports.LeaseBatcher = (*Leases)(nil)

// TryAcquireMany implements ports.LeaseBatcher under one lock: each claim
// as TryAcquire, in order. A failure (fault, down, a non-positive ttl)
// takes nothing.
func (l *Leases) TryAcquireMany(ctx context.Context, claims []ports.LeaseClaim) ([]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := faults.Enter(l.Set, MethodTryAcquireMany); err != nil {
		return nil, err
	}
	for _, c := range claims {
		if err := l.check(ctx, MethodTryAcquire, c.GameID, c.TTL, true); err != nil {
			return nil, err
		}
	}
	out := make([]bool, len(claims))
	for i, c := range claims {
		if _, ok := l.held(c.GameID); ok {
			continue
		}
		l.leases[c.GameID] = lease{token: c.Token, expires: l.now().Add(c.TTL)}
		out[i] = true
	}
	return out, nil
}

// ReleaseMany implements ports.LeaseBatcher under one lock: each claim as
// Release.
func (l *Leases) ReleaseMany(ctx context.Context, claims []ports.LeaseClaim) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := faults.Enter(l.Set, MethodReleaseMany); err != nil {
		return err
	}
	for _, c := range claims {
		if err := l.check(ctx, MethodRelease, c.GameID, 0, false); err != nil {
			return err
		}
	}
	for _, c := range claims {
		if le, ok := l.held(c.GameID); ok && le.token == c.Token {
			delete(l.leases, c.GameID)
		}
	}
	return nil
}
