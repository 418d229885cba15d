package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/leasetest"
)

func TestLeasesContract(t *testing.T) {
	clock := memory.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	leasetest.Run(t, leasetest.Harness{
		New:      func(*testing.T) ports.LeaseStore { return memory.NewLeases(clock.Now) },
		ShortTTL: time.Second,
		Advance:  clock.Advance,
	})
}

func TestLeasesExpiryBoundary(t *testing.T) {
	ctx := t.Context()
	clock := memory.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := memory.NewLeases(clock.Now)
	if ok, err := l.TryAcquire(ctx, "g", "a", time.Second); !ok || err != nil {
		t.Fatalf("TryAcquire = %v, %v; want true, nil", ok, err)
	}
	clock.Advance(time.Second - time.Nanosecond)
	if h, ok := l.Holder("g"); !ok || h != "a" {
		t.Fatalf("Holder just before expiry = %q, %v; want a, true", h, ok)
	}
	clock.Advance(time.Nanosecond)
	if h, ok := l.Holder("g"); ok {
		t.Fatalf("Holder at expiry = %q, want none", h)
	}
}

func TestLeasesDown(t *testing.T) {
	ctx := t.Context()
	l := memory.NewLeases(nil)
	if ok, err := l.TryAcquire(ctx, "g", "a", time.Minute); !ok || err != nil {
		t.Fatalf("TryAcquire = %v, %v; want true, nil", ok, err)
	}
	l.SetDown(true)
	calls := map[string]func() error{
		"TryAcquire": func() error { _, err := l.TryAcquire(ctx, "h", "a", time.Minute); return err },
		"Renew":      func() error { _, err := l.Renew(ctx, "g", "a", time.Minute); return err },
		"Release":    func() error { return l.Release(ctx, "g", "a") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("%s while down: %v, want ErrUnavailable", name, err)
		}
	}
	l.SetDown(false)
	if ok, err := l.Renew(ctx, "g", "a", time.Minute); !ok || err != nil {
		t.Fatalf("Renew after the outage = %v, %v; want true, nil (state survives)", ok, err)
	}
}

func TestLeasesRejects(t *testing.T) {
	l := memory.NewLeases(nil)
	if _, err := l.TryAcquire(t.Context(), "g", "a", 0); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("TryAcquire with ttl 0: %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.TryAcquire(ctx, "g", "a", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("TryAcquire with a cancelled ctx: %v, want context.Canceled", err)
	}
}
