package ingress_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/ports"
)

// poisonLeases panics on every lease acquisition for one game, the way a
// bug triggered by one job's data would; other games are untouched.
type poisonLeases struct {
	ports.LeaseStore
	game   string
	panics *atomic.Int64
}

func (l poisonLeases) TryAcquire(ctx context.Context, game, token string, ttl time.Duration) (bool, error) {
	if game == l.game {
		l.panics.Add(1)
		panic("poison job for " + game)
	}
	return l.LeaseStore.TryAcquire(ctx, game, token, ttl)
}

// entryIDs returns the ids still in stream.
func (e *env) entryIDs(stream string) []string {
	e.t.Helper()
	entries, err := e.raw.Do(e.ctx, e.raw.B().Xrange().Key(stream).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		e.t.Fatalf("XRANGE %s: %v", stream, err)
	}
	ids := make([]string, 0, len(entries))
	for _, en := range entries {
		ids = append(ids, en.ID)
	}
	return ids
}

// TestPoisonJobDeadLettered: a start job whose handling panics every time
// does not take the worker down: the worker keeps serving other jobs, the
// poison job is retried through claims and, once delivered more than
// MaxDeliveries (default 5) times, gets exactly one internal failure
// result, is acked and deleted from its stream.
func TestPoisonJobDeadLettered(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		const claimIdle = 200 * time.Millisecond
		tel := memory.NewTelemetry()
		e := newEnv(t, url, func(c *ingress.Config) { c.ClaimIdle, c.Telemetry = claimIdle, tel })
		panics := new(atomic.Int64)
		e.cfg.Services = mustServices(t, e.store, poisonLeases{LeaseStore: e.leases, game: "poison", panics: panics}, e.driver)
		e.start()

		began := time.Now()
		poison := e.add(e.streams.StartJobs, "game_id", "poison", "image_ref", image, "env", `{"TOKEN":"secret"}`)
		var good []string
		for i := range 6 {
			good = append(good, e.add(e.streams.StartJobs, "game_id", fmt.Sprint("good", i), "image_ref", image))
		}
		// The other jobs are served while the poison job is still being retried.
		byID := e.waitResults(len(good))
		for _, id := range good {
			if r := byID[id]; r["outcome"] != "success" {
				t.Fatalf("job %s next to the poison job: %v", id, r)
			}
		}
		e.waitFor("the poison job's result", func() bool { _, ok := e.waitResults(len(good))[poison]; return ok })
		took := time.Since(began)
		for i := range 3 { // jobs added after the dead-letter are served too
			good = append(good, e.add(e.streams.StopJobs, "game_id", fmt.Sprint("good", i), "reason", "admin_request"))
		}
		e.waitResults(len(good) + 1)
		results := e.finish(len(good) + 1) // exactly one result per job, nothing pending
		r := results[poison]
		if r["outcome"] != "failure" || r["error_code"] != "internal" || r["game_id"] != "poison" || r["op_kind"] != "start" ||
			!strings.Contains(r["error_message"], "dead-lettered") {
			t.Fatalf("poison job result = %v", r)
		}
		if n := panics.Load(); n != ingress.DefaultMaxDeliveries {
			t.Errorf("the poison job ran %d times, want %d (MaxDeliveries)", n, ingress.DefaultMaxDeliveries)
		}
		if n := tel.Panics("ingress_job"); n != ingress.DefaultMaxDeliveries {
			t.Errorf("rtmanager_panics_total{where=ingress_job} = %d, want %d", n, ingress.DefaultMaxDeliveries)
		}
		for _, s := range []string{e.streams.StartJobs, e.streams.StopJobs} {
			if ids := e.entryIDs(s); len(ids) != 0 {
				t.Errorf("%s still holds %v after every job got its result", s, ids)
			}
		}
		t.Logf("figure: poison job dead-lettered %.2fs after it was added (claim idle %s, %d deliveries)",
			took.Seconds(), claimIdle, ingress.DefaultMaxDeliveries+1)
	})
}

// TestDeadLetterWithoutRunning: a job another consumer already took more
// than MaxDeliveries times (a fleet that crashed on it) is dead-lettered on
// its next claim without being run.
func TestDeadLetterWithoutRunning(t *testing.T) {
	eachBackend(t, func(t *testing.T, url string) {
		e := newEnv(t, url, func(c *ingress.Config) { c.MaxDeliveries, c.ClaimIdle = 2, 200*time.Millisecond })
		key := e.add(e.streams.StartJobs, "game_id", "g1", "image_ref", image)
		stream, id, _ := strings.Cut(key, " ")
		// A crashed instance read it and was claimed from once already.
		if err := e.raw.Do(e.ctx, e.raw.B().Xreadgroup().Group(ports.ConsumerGroup, "crashed").Count(1).
			Streams().Key(stream).Id(">").Build()).Error(); err != nil {
			t.Fatalf("XREADGROUP: %v", err)
		}
		if err := e.raw.Do(e.ctx, e.raw.B().Xclaim().Key(stream).Group(ports.ConsumerGroup).Consumer("crashed").
			MinIdleTime("0").Id(id).Retrycount(2).Justid().Build()).Error(); err != nil {
			t.Fatalf("XCLAIM: %v", err)
		}
		e.start()
		r := e.waitResults(1)[key]
		if r["outcome"] != "failure" || r["error_code"] != "internal" || !strings.Contains(r["error_message"], "delivered 3 times") {
			t.Fatalf("result = %v", r)
		}
		if n := e.leases.tries.Load(); n != 0 {
			t.Errorf("the dead-lettered job was run (%d lease attempts)", n)
		}
		if rec, err := e.store.Get(e.ctx, "g1"); err == nil {
			t.Errorf("record of the dead-lettered job exists: %+v", rec)
		}
		e.finish(1)
	})
}
