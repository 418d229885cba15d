package redis

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// BenchmarkLeaseRoundTrip measures TryAcquire followed by Release of one
// game's lease, serially and from parallel goroutines on distinct games.
func BenchmarkLeaseRoundTrip(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			url, _ := be.url(b)
			l := MustConnect(b, url, scratchOptions(b, url)).Leases()
			ctx := testCtx(b)
			b.Run("serial", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					ok, err := l.TryAcquire(ctx, "bench", "tok", time.Minute)
					if err != nil || !ok {
						b.Fatalf("TryAcquire = %v, %v", ok, err)
					}
					if err := l.Release(ctx, "bench", "tok"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					game := fmt.Sprint("bench-", n.Add(1))
					for pb.Next() {
						ok, err := l.TryAcquire(ctx, game, "tok", time.Minute)
						if err != nil || !ok {
							b.Errorf("TryAcquire = %v, %v", ok, err)
							return
						}
						if err := l.Release(ctx, game, "tok"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkComplete measures the XACK+XADD completion script; the jobs are
// added and read before the timer runs.
func BenchmarkComplete(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			url, _ := be.url(b)
			c := MustConnect(b, url, scratchOptions(b, url))
			ctx := testCtx(b)
			q, err := c.Queue(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			var jobs []ports.Job
			for len(jobs) < b.N {
				n := min(b.N-len(jobs), 1000)
				for i := 0; i < n; i++ {
					xadd(b, c, c.Streams().StartJobs, map[string]string{"game_id": "g", "image_ref": "e:1"})
				}
				got, err := q.Read(ctx, n, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				jobs = append(jobs, got...)
			}
			r := ports.JobResult{GameID: "g", OpKind: "start", Outcome: "success", FinishedAt: time.Now()}
			b.StartTimer()
			for _, j := range jobs[:b.N] {
				if err := q.Complete(ctx, j, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
