package sqlstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// BenchmarkSwap measures compare-and-swap throughput: each op is one
// successful Swap moving a record to its next generation. "sequential" is
// one caller; "parallel8" is 8 goroutines, each on its own game, as
// lifecycle operations on different games run.
func BenchmarkSwap(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := backends[name](b)
			for _, workers := range []int{1, 8} {
				label := "sequential"
				if workers > 1 {
					label = fmt.Sprintf("parallel%d", workers)
				}
				b.Run(label, func(b *testing.B) { benchSwap(b, s, workers) })
			}
		})
	}
}

func benchSwap(b *testing.B, s *sqlstore.Store, workers int) {
	ctx := b.Context()
	now := time.Now()
	recs := make([]core.Record, workers)
	for w := range recs {
		recs[w] = core.Record{GameID: fmt.Sprintf("bench-%s-%d", testenv.RandomSuffix(4), w),
			Status: core.StatusRunning, ContainerID: "c0", Generation: 1, CreatedAt: now, LastOpAt: now}
		if err := s.Create(ctx, recs[w]); err != nil {
			b.Fatalf("Create: %v", err)
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range workers {
		n := b.N / workers
		if w < b.N%workers {
			n++
		}
		wg.Go(func() {
			cur := recs[w]
			for i := range n {
				next := cur
				next.Generation++
				next.ContainerID = fmt.Sprintf("c%d", i+1)
				if err := s.Swap(ctx, ports.ExpectOf(cur), next); err != nil {
					b.Errorf("Swap: %v", err)
					return
				}
				cur = next
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "swaps/s")
}
