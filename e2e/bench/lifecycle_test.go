//go:build bench

package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// opsResult is one P2 measurement.
type opsResult struct {
	Concurrency int
	Ops         int64
	Failures    int64
	Elapsed     time.Duration
}

func (r opsResult) PerSecond() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// measureOps runs start/stop cycles through the lifecycle services with
// concurrency workers, each owning gamesPer games (so no two workers contend
// for a lease), for about d, and counts finished operations.
func measureOps(tb testing.TB, s *stack, concurrency, gamesPer int, d time.Duration) opsResult {
	tb.Helper()
	ctx := context.Background()
	prefix := "p2-" + fmt.Sprint(concurrency) + "-" + randSuffix()
	var ops, fails atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			games := make([]string, gamesPer)
			for i := range games {
				games[i] = fmt.Sprintf("%s-%d-%d", prefix, w, i)
			}
			for !stop.Load() {
				for _, g := range games {
					res, err := s.services.Start.Handle(ctx, lifecycle.StartInput{GameID: g, ImageRef: benchImage,
						Meta: lifecycle.Meta{Source: core.SourceStream, SourceRef: "bench"}})
					count(&ops, &fails, res, err)
				}
				for _, g := range games {
					res, err := s.services.Stop.Handle(ctx, lifecycle.StopInput{GameID: g, Reason: core.ReasonGameFinished,
						Meta: lifecycle.Meta{Source: core.SourceStream, SourceRef: "bench"}})
					count(&ops, &fails, res, err)
				}
				if time.Since(begin) >= d {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return opsResult{Concurrency: concurrency, Ops: ops.Load(), Failures: fails.Load(), Elapsed: time.Since(begin)}
}

func count(ops, fails *atomic.Int64, res lifecycle.Result, err error) {
	ops.Add(1)
	if err != nil || res.Outcome != core.OutcomeSuccess || res.ErrorCode != "" {
		fails.Add(1)
	}
}

func randSuffix() string { return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff) }
