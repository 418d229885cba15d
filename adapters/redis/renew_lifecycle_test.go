package redis

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// slowStopDriver is the fake driver whose Stop takes stopFor.
type slowStopDriver struct {
	*fakedriver.Driver
	stopFor time.Duration
}

func (d slowStopDriver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	select {
	case <-time.After(d.stopFor):
	case <-ctx.Done():
		return ctx.Err()
	}
	return d.Driver.Stop(ctx, id, timeout)
}

// TestLifecycleLeaseRenewedOnRealRedis: an operation that runs for many
// lease TTLs keeps its lease on a real Redis (renewed every third of the
// TTL from a timer), so another holder cannot take it meanwhile, and the
// operation succeeds and releases it.
func TestLifecycleLeaseRenewedOnRealRedis(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			c := MustConnect(t, url, scratchOptions(t, url))
			ctx := testCtx(t)
			const ttl = 300 * time.Millisecond
			drv := slowStopDriver{Driver: fakedriver.New(nil), stopFor: 8 * ttl}
			drv.AddImage("engine:1", fakedriver.Behavior{})
			svc, _ := newServices(t, c.Leases(), c.HealthStream(), drv, lifecycle.Config{LeaseTTL: ttl})
			meta := lifecycle.Meta{Source: core.SourceREST, SourceRef: "req"}
			if res, err := svc.Start.Handle(ctx, lifecycle.StartInput{GameID: "slow", ImageRef: "engine:1", Meta: meta}); err != nil || res.Outcome != core.OutcomeSuccess {
				t.Fatalf("start: %+v, %v", res, err)
			}
			done := make(chan lifecycle.Result, 1)
			go func() {
				res, _ := svc.Stop.Handle(ctx, lifecycle.StopInput{GameID: "slow", Reason: core.ReasonGameFinished, Meta: meta})
				done <- res
			}()
			// Well past the TTL the lease is still the stop's.
			for end := time.Now().Add(6 * ttl); time.Now().Before(end); {
				select {
				case res := <-done:
					t.Fatalf("the stop ended early: %+v", res)
				case <-time.After(ttl / 2):
				}
				if ok, err := c.Leases().TryAcquire(ctx, "slow", "intruder", ttl); err != nil || ok {
					t.Fatalf("another holder took the lease while the stop ran: %v, %v", ok, err)
				}
			}
			res := <-done
			if res.Outcome != core.OutcomeSuccess || res.ErrorCode != "" {
				t.Fatalf("stop: %+v", res)
			}
			if ok, err := c.Leases().TryAcquire(ctx, "slow", "next", ttl); err != nil || !ok {
				t.Errorf("lease after the stop: %v, %v; want released", ok, err)
			}
		})
	}
}
