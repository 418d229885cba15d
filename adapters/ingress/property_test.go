package ingress_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// slowDriver makes Start and Stop take delay (or until ctx ends), so a
// worker stopped mid-way really interrupts an operation.
type slowDriver struct {
	ports.RuntimeDriver
	delay time.Duration
}

func (d slowDriver) pause(ctx context.Context) {
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (d slowDriver) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	d.pause(ctx)
	return d.RuntimeDriver.Start(ctx, spec)
}

func (d slowDriver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	d.pause(ctx)
	return d.RuntimeDriver.Stop(ctx, id, timeout)
}

// propJob is one job the property test added.
type propJob struct {
	key  string // "<stream> <id>"
	game string
	kind core.OpKind
	seq  core.JobSeq
}

// TestIngressInterleavings drives the ingress through random interleavings
// of job deliveries, worker instances starting and dying mid-operation
// (their jobs claimed by others), lost result writes and outside lease
// holders, then lets one healthy worker finish, and checks the state
// machine's promises: every job has exactly one result, nothing stays
// pending, and no job is applied after a newer job of its game was decided
// (a job never undoes a newer one). It runs on the embedded Redis server;
// -rapid.checks sets the number of interleavings (default 25 here).
func TestIngressInterleavings(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue {
		_ = f.Value.Set("25")
		defer func() { _ = f.Value.Set(f.DefValue) }()
	}
	url := backends[0].url(t)
	games := []string{"g1", "g2"}
	rapid.Check(t, func(rt *rapid.T) {
		e := newEnv(t, url, func(c *ingress.Config) {
			c.ClaimIdle, c.ConflictRetry, c.StopGrace, c.CompleteRetry = 150*time.Millisecond,
				400*time.Millisecond, time.Millisecond, 5*time.Millisecond
			c.Block = 20 * time.Millisecond
		})
		delay := time.Duration(rapid.IntRange(0, 20).Draw(rt, "driver_delay_ms")) * time.Millisecond
		svc := mustServices(t, e.store, e.leases, slowDriver{RuntimeDriver: e.driver, delay: delay})
		var jobs []propJob
		workers := map[int]func(){}
		held := map[string]bool{}
		generation := 0
		startWorker := func(k, failures int) {
			generation++
			q, err := e.client.Queue(e.ctx, fmt.Sprintf("w%d-%d", k, generation))
			if err != nil {
				rt.Fatalf("Queue: %v", err)
			}
			fq := &failingQueue{JobQueue: q}
			fq.failures.Store(int64(failures))
			cfg := e.cfg
			cfg.Queue, cfg.Services = fq, svc
			workers[k] = e.run(cfg)
		}
		steps := rapid.IntRange(1, 14).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 5).Draw(rt, "action") {
			case 0, 1: // a producer adds a job
				game := rapid.SampledFrom(games).Draw(rt, "game")
				j := propJob{game: game, kind: core.OpStart}
				if rapid.Bool().Draw(rt, "stop") {
					j.kind, j.key = core.OpStop, e.add(e.streams.StopJobs, "game_id", game, "reason", "game_finished")
				} else {
					j.key = e.add(e.streams.StartJobs, "game_id", game, "image_ref", image)
				}
				_, id, _ := strings.Cut(j.key, " ")
				seq, err := core.ParseJobSeq(id)
				if err != nil {
					rt.Fatalf("entry id %q: %v", id, err)
				}
				j.seq = seq
				jobs = append(jobs, j)
			case 2: // an instance starts, maybe losing its first result writes
				k := rapid.IntRange(0, 2).Draw(rt, "worker")
				if workers[k] == nil {
					startWorker(k, rapid.IntRange(0, 2).Draw(rt, "lost_results"))
				}
			case 3: // an instance dies; its running jobs are cut short
				k := rapid.IntRange(0, 2).Draw(rt, "worker")
				if stop := workers[k]; stop != nil {
					stop()
					delete(workers, k)
				}
			case 4: // an operation outside the ingress holds or frees a lease
				game := rapid.SampledFrom(games).Draw(rt, "game")
				if held[game] {
					if err := e.leases.Release(e.ctx, game, "outsider"); err != nil {
						rt.Fatalf("Release: %v", err)
					}
					held[game] = false
				} else if ok, err := e.leases.TryAcquire(e.ctx, game, "outsider", time.Minute); err == nil && ok {
					held[game] = true
				}
			case 5: // time passes between the other steps
				time.Sleep(time.Duration(rapid.IntRange(0, 200).Draw(rt, "pause_ms")) * time.Millisecond)
			}
		}
		for game := range held {
			_ = e.leases.Release(e.ctx, game, "outsider")
		}
		for _, stop := range workers {
			stop()
		}
		// One healthy instance finishes whatever is left.
		stop := e.run(func() ingress.Config { c := e.cfg; c.Services = svc; return c }())
		deadline := time.Now().Add(20 * time.Second)
		for {
			pending, err := e.queue.Pending(e.ctx)
			if err != nil {
				rt.Fatalf("Pending: %v", err)
			}
			if len(e.results()) >= len(jobs) && pending[e.streams.StartJobs]+pending[e.streams.StopJobs] == 0 {
				break
			}
			if time.Now().After(deadline) {
				rt.Fatalf("after 20s: %d results for %d jobs, pending %v", len(e.results()), len(jobs), pending)
			}
			time.Sleep(10 * time.Millisecond) // polling interval, bounded by deadline
		}
		stop()

		// Every job has exactly one result.
		count := map[string]int{}
		for _, r := range e.results() {
			count[r["job_stream"]+" "+r["job_id"]]++
		}
		for _, j := range jobs {
			if count[j.key] != 1 {
				rt.Errorf("job %s (%s %s) has %d results, want 1", j.key, j.kind, j.game, count[j.key])
			}
		}
		if len(count) != len(jobs) {
			rt.Errorf("%d jobs have results, %d jobs were added", len(count), len(jobs))
		}
		// No job is applied after a newer job of its game was decided.
		decided := map[string][]core.OperationEntry{}
		for _, op := range e.store.Operations() {
			if op.OpSource != core.SourceStream {
				continue
			}
			seq, err := core.ParseJobSeq(op.SourceRef)
			if err != nil {
				rt.Fatalf("source_ref %q: %v", op.SourceRef, err)
			}
			if op.Outcome == core.OutcomeSuccess && op.ErrorCode == "" {
				for _, prev := range decided[op.GameID] {
					pseq, _ := core.ParseJobSeq(prev.SourceRef)
					if core.JobNewer(pseq, prev.OpKind, seq, op.OpKind) {
						rt.Errorf("%s job %s of %s was applied after the newer %s job %s was decided",
							op.OpKind, op.SourceRef, op.GameID, prev.OpKind, prev.SourceRef)
					}
				}
			}
			if op.ErrorCode != core.CodeServiceUnavailable && op.ErrorCode != core.CodeInternal {
				decided[op.GameID] = append(decided[op.GameID], op)
			}
		}
	})
}
