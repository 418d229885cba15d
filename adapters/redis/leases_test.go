package redis

import (
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/leasetest"
)

func TestLeasesContract(t *testing.T) {
	t.Run("redis-server", func(t *testing.T) {
		url, _ := backends[0].url(t)
		leasetest.Run(t, leasetest.Harness{
			New: func(t *testing.T) ports.LeaseStore {
				return MustConnect(t, url, scratchOptions(t, url)).Leases()
			},
			ShortTTL: 100 * time.Millisecond,
			Advance:  time.Sleep, // real Redis expires keys in real time
		})
	})
	t.Run("embedded/fast-forward", func(t *testing.T) {
		e := MustStartEmbedded(t)
		leasetest.Run(t, leasetest.Harness{
			New: func(t *testing.T) ports.LeaseStore {
				return MustConnect(t, e.URL(), scratchOptions(t, e.URL())).Leases()
			},
			ShortTTL: time.Second,
			Advance:  e.FastForward,
		})
	})
	t.Run("embedded/wall-clock", func(t *testing.T) {
		// Proves the embedded server expires TTLs with wall time on its own.
		e := MustStartEmbedded(t)
		leasetest.Run(t, leasetest.Harness{
			New: func(t *testing.T) ports.LeaseStore {
				return MustConnect(t, e.URL(), scratchOptions(t, e.URL())).Leases()
			},
			ShortTTL: 100 * time.Millisecond,
			Advance:  time.Sleep,
		})
	})
}

func TestLeaseKey(t *testing.T) {
	e := MustStartEmbedded(t)
	c := MustConnect(t, e.URL(), Options{KeyPrefix: "dep1:"})
	l := c.Leases()
	if got, want := l.Key("g1"), "dep1:rtmanager:lease:g1"; got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	ctx := testCtx(t)
	if ok, err := l.TryAcquire(ctx, "g1", "tok", 1500*time.Microsecond); err != nil || !ok {
		t.Fatalf("TryAcquire = %v, %v", ok, err)
	}
	if ok, err := l.TryAcquire(ctx, "g2", "tok", time.Microsecond); !errors.Is(err, ports.ErrInvalid) || ok {
		t.Fatalf("TryAcquire(1µs) = %v, %v; want ErrInvalid", ok, err)
	}
	// The same game under another prefix is another lease.
	other := MustConnect(t, e.URL(), Options{KeyPrefix: "dep2:"}).Leases()
	if ok, err := other.TryAcquire(ctx, "g3", "tok", time.Minute); err != nil || !ok {
		t.Fatalf("TryAcquire under dep2 = %v, %v", ok, err)
	}
	if ok, err := l.TryAcquire(ctx, "g3", "tok2", time.Minute); err != nil || !ok {
		t.Fatalf("TryAcquire under dep1 = %v, %v", ok, err)
	}
}

func TestLeasesUnavailable(t *testing.T) {
	e := MustStartEmbedded(t)
	c := MustConnect(t, e.URL(), Options{})
	l := c.Leases()
	ctx := testCtx(t)
	if ok, err := l.TryAcquire(ctx, "g1", "tok", time.Minute); err != nil || !ok {
		t.Fatalf("TryAcquire = %v, %v", ok, err)
	}
	e.Close()
	if _, err := l.TryAcquire(ctx, "g2", "tok", time.Minute); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("TryAcquire on a stopped server: %v, want ErrUnavailable", err)
	}
	if _, err := l.Renew(ctx, "g1", "tok", time.Minute); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Renew on a stopped server: %v, want ErrUnavailable", err)
	}
	if err := l.Release(ctx, "g1", "tok"); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Release on a stopped server: %v, want ErrUnavailable", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := testCtx(t)
	if _, err := Connect(ctx, "http://x", Options{}); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("Connect(http://x): %v, want ErrInvalid", err)
	}
	e := MustStartEmbedded(t)
	url := e.URL()
	e.Close()
	if _, err := Connect(ctx, url, Options{}); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Connect to a closed port: %v, want ErrUnavailable", err)
	}
}
