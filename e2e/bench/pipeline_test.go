//go:build bench

package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/redis/rueidis"
)

// streamResult is one P3 measurement.
type streamResult struct {
	Kind        string
	Jobs        int
	Concurrency int
	Elapsed     time.Duration
	CPU         cpuUse
}

func (r streamResult) PerSecond() float64 { return float64(r.Jobs) / r.Elapsed.Seconds() }

// measureStream runs an ingress worker on s's private streams, XADDs n jobs
// (pipelined, as a busy producer would) and times from the first XADD to
// the n-th result on the results stream. kind is "stop" (games without a
// runtime: not_found results) or "start" (new games on the fake driver).
func measureStream(tb testing.TB, s *stack, kind string, n, concurrency int) streamResult {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q, err := s.redis.Queue(ctx, fmt.Sprintf("bench-%s-%d", kind, concurrency))
	if err != nil {
		tb.Fatal(err)
	}
	w, err := ingress.New(ingress.Config{Queue: q, Services: s.services, Concurrency: concurrency,
		Block: 100 * time.Millisecond, ClaimIdle: time.Minute,
		StartStream: s.streams.StartJobs, StopStream: s.streams.StopJobs, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	rc := rawRedis(tb, s.redisSrv.URL)
	base, err := rc.Do(ctx, rc.B().Xlen().Key(s.streams.JobResults).Build()).AsInt64()
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	defer wg.Wait()
	defer cancel()

	prefix := fmt.Sprintf("p3%s%d-%s", kind, concurrency, randSuffix())
	m := s.meter(tb)
	begin := time.Now()
	const batch = 500
	for i := 0; i < n; i += batch {
		cmds := make([]rueidis.Completed, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			g := fmt.Sprintf("%s-%d", prefix, j)
			if kind == "stop" {
				cmds = append(cmds, rc.B().Xadd().Key(s.streams.StopJobs).Id("*").FieldValue().
					FieldValue("game_id", g).FieldValue("reason", "game_finished").Build())
			} else {
				cmds = append(cmds, rc.B().Xadd().Key(s.streams.StartJobs).Id("*").FieldValue().
					FieldValue("game_id", g).FieldValue("image_ref", benchImage).Build())
			}
		}
		for _, r := range rc.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for {
		got, err := rc.Do(ctx, rc.B().Xlen().Key(s.streams.JobResults).Build()).AsInt64()
		if err != nil {
			tb.Fatal(err)
		}
		if got-base >= int64(n) {
			break
		}
		if time.Since(begin) > 5*time.Minute {
			tb.Fatalf("only %d of %d results after 5 minutes", got-base, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(begin)
	return streamResult{Kind: kind, Jobs: n, Concurrency: concurrency, Elapsed: elapsed, CPU: m.stop(tb)}
}

// reconcileResult is one P4 reconcile measurement.
type reconcileResult struct {
	Store   string
	Records int
	Passes  []time.Duration
	Report  lifecycle.ReconcileReport
}

func (r reconcileResult) Median() time.Duration { return median(r.Passes) }

// measureReconcile fills s with n running games, each with its container
// on the fake driver, then times passes reconcile passes over them.
func measureReconcile(tb testing.TB, s *stack, name string, n, passes int) reconcileResult {
	tb.Helper()
	ctx := context.Background()
	seedFleet(tb, s, n)
	rec := s.services.NewReconciler(2 * time.Minute)
	out := reconcileResult{Store: name, Records: n}
	for range passes {
		begin := time.Now()
		rep, err := rec.Pass(ctx)
		out.Passes = append(out.Passes, time.Since(begin))
		if err != nil {
			tb.Fatal(err)
		}
		out.Report = rep
		if rep.Records != n || rep.Containers != n || rep.Disappeared+rep.Exited+rep.Orphans+rep.Skipped+rep.Failed != 0 {
			tb.Fatalf("reconcile pass over healthy games: %+v", rep)
		}
	}
	return out
}

// seedFleet fills s with n running games, each with its container on the
// fake driver.
func seedFleet(tb testing.TB, s *stack, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	prefix := "p4-" + randSuffix()
	recs := make([]core.Record, n)
	for i := range recs {
		g := fmt.Sprintf("%s-%05d", prefix, i)
		c, err := s.driver.Start(ctx, ports.ContainerSpec{Name: core.ContainerName(core.DefaultScope, g, 1), Image: benchImage,
			Labels: lifecycle.Labels(g, 1, benchImage), Port: 8080, HostIP: "127.0.0.1"})
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = runningRecord(g, c, now)
	}
	seedRecords(tb, s.store, recs)
}

// runningRecord is the record of game g running in container c since now.
func runningRecord(g string, c ports.Container, now time.Time) core.Record {
	return core.Record{GameID: g, Status: core.StatusRunning, ContainerID: c.ID, ImageRef: benchImage,
		Endpoint: c.Endpoint, Generation: 1, CreatedAt: now, StartedAt: &now, LastOpAt: now}
}

// seedRecords creates recs in store with 16 writers.
func seedRecords(tb testing.TB, store ports.RecordStore, recs []core.Record) {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += 16 {
				if err := store.Create(ctx, recs[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}
