package ingress_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// batchSizes records the sizes of the batch calls a wrapper saw.
type batchSizes struct {
	mu    sync.Mutex
	sizes map[string][]int
}

func (b *batchSizes) add(call string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sizes == nil {
		b.sizes = map[string][]int{}
	}
	b.sizes[call] = append(b.sizes[call], n)
}

// calls returns how many calls of call were made and their total size.
func (b *batchSizes) calls(call string) (calls, items int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.sizes[call] {
		items += n
	}
	return len(b.sizes[call]), items
}

// seenLeases is the Redis lease store, recording single and batch calls.
type seenLeases struct {
	ports.LeaseStore
	lb   ports.LeaseBatcher
	seen *batchSizes
}

func (l seenLeases) TryAcquire(ctx context.Context, g, tok string, ttl time.Duration) (bool, error) {
	l.seen.add("acquire", 1)
	return l.LeaseStore.TryAcquire(ctx, g, tok, ttl)
}
func (l seenLeases) Release(ctx context.Context, g, tok string) error {
	l.seen.add("release", 1)
	return l.LeaseStore.Release(ctx, g, tok)
}
func (l seenLeases) TryAcquireMany(ctx context.Context, cs []ports.LeaseClaim) ([]bool, error) {
	l.seen.add("acquire", len(cs))
	return l.lb.TryAcquireMany(ctx, cs)
}
func (l seenLeases) ReleaseMany(ctx context.Context, cs []ports.LeaseClaim) error {
	l.seen.add("release", len(cs))
	return l.lb.ReleaseMany(ctx, cs)
}

// seenStore is the PostgreSQL store, recording its audit appends and the
// reads lifecycle makes under a lease.
type seenStore struct {
	*sqlstore.Store
	seen *batchSizes
}

func (s seenStore) AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error) {
	s.seen.add("append", 1)
	return s.Store.AppendOperation(ctx, e)
}
func (s seenStore) AppendOperations(ctx context.Context, es []core.OperationEntry) ([]int64, error) {
	s.seen.add("append", len(es))
	return s.Store.AppendOperations(ctx, es)
}
func (s seenStore) Create(ctx context.Context, rec core.Record) error {
	s.seen.add("create", 1)
	return s.Store.Create(ctx, rec)
}
func (s seenStore) CreateMany(ctx context.Context, recs []core.Record) ([]error, error) {
	s.seen.add("create", len(recs))
	return s.Store.CreateMany(ctx, recs)
}
func (s seenStore) SwapAppendSnapshot(ctx context.Context, x ports.Expect, next core.Record, e core.OperationEntry, h core.HealthSnapshot) error {
	s.seen.add("running", 1)
	return s.Store.SwapAppendSnapshot(ctx, x, next, e, h)
}
func (s seenStore) SwapAppendSnapshotMany(ctx context.Context, items []ports.SwapSnapshot) ([]error, error) {
	s.seen.add("running", len(items))
	return s.Store.SwapAppendSnapshotMany(ctx, items)
}
func (s seenStore) Get(ctx context.Context, g string) (core.Record, error) {
	s.seen.add("get", 1)
	return s.Store.Get(ctx, g)
}
func (s seenStore) GetMany(ctx context.Context, gs []string) (map[string]core.Record, error) {
	s.seen.add("get", len(gs))
	return s.Store.GetMany(ctx, gs)
}
func (s seenStore) ListOperations(ctx context.Context, g string, limit int) ([]core.OperationEntry, error) {
	s.seen.add("list", 1)
	return s.Store.ListOperations(ctx, g, limit)
}
func (s seenStore) ListOperationsMany(ctx context.Context, gs []string, limit int) (map[string][]core.OperationEntry, error) {
	s.seen.add("list", len(gs))
	return s.Store.ListOperationsMany(ctx, gs, limit)
}

// seenQueue is the Redis queue, recording its completions.
type seenQueue struct {
	ports.JobQueue
	bc   ports.BatchCompleter
	seen *batchSizes
}

func (q seenQueue) Complete(ctx context.Context, j ports.Job, r ports.JobResult) error {
	q.seen.add("complete", 1)
	return q.JobQueue.Complete(ctx, j, r)
}
func (q seenQueue) CompleteMany(ctx context.Context, cs []ports.Completion) error {
	q.seen.add("complete", len(cs))
	return q.bc.CompleteMany(ctx, cs)
}

// TestBatchedIngress runs a backlog of stream jobs through the worker on
// real PostgreSQL and a real redis-server, batched (the default) and per
// call (the design before), and checks that batching keeps every
// guarantee: exactly one result per job, per-game order (a start and a
// stop of the same game read in one batch run in stream order), one audit
// entry per attempt, and the records the jobs leave. Batched, the lease,
// read, audit, reservation, running-write and result calls must share round trips:
// fewer calls than jobs.
func TestBatchedIngress(t *testing.T) {
	for _, c := range []struct {
		name              string
		batched, batchRun bool
	}{{"batched", true, false}, {"batched+running", true, true}, {"per-call", false, false}} {
		t.Run(c.name, func(t *testing.T) {
			testBatchedIngress(t, c.batched, c.batchRun)
		})
	}
}

func testBatchedIngress(t *testing.T, batched, batchRun bool) {
	e := newEnv(t, testenv.RedisURL(t), nil)
	db := openPostgres(t, e)
	seen := &batchSizes{}
	store := seenStore{Store: db, seen: seen}
	leases := seenLeases{LeaseStore: e.client.Leases(), lb: e.client.Leases(), seen: seen}
	driver := fakedriver.New(nil)
	driver.AddImage(image, fakedriver.Behavior{})
	svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Leases: leases,
		Driver: driver, Health: memory.NewHealthRecorder(), Snapshots: store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: lifecycle.Config{StartTimeout: 5 * time.Second, StopTimeout: time.Second, Unbatched: !batched, BatchRunningWrites: batchRun}})
	if err != nil {
		t.Fatalf("lifecycle.New: %v", err)
	}
	e.cfg.Services, e.cfg.Concurrency, e.cfg.Unbatched = svc, 16, !batched
	e.cfg.Queue = seenQueue{JobQueue: e.queue, bc: e.queue.(ports.BatchCompleter), seen: seen}

	// The backlog: per game a start then a stop (same batch, same game),
	// and stops of games without a runtime.
	prefix := "batch-" + testenv.RandomSuffix(6)
	const pairs, lone = 12, 24
	type job struct{ key, game, kind string }
	var jobs []job
	for i := range pairs {
		g := fmt.Sprintf("%s-p%02d", prefix, i)
		jobs = append(jobs, job{e.add(e.streams.StartJobs, "game_id", g, "image_ref", image), g, "start"},
			job{e.add(e.streams.StopJobs, "game_id", g, "reason", "admin_request"), g, "stop"})
	}
	for i := range lone {
		g := fmt.Sprintf("%s-l%02d", prefix, i)
		jobs = append(jobs, job{e.add(e.streams.StopJobs, "game_id", g, "reason", "admin_request"), g, "stop"})
	}
	e.start()
	e.waitResults(len(jobs))
	results := e.finish(len(jobs))
	if len(e.results()) != len(jobs) {
		t.Fatalf("%d results for %d jobs", len(e.results()), len(jobs))
	}

	for _, j := range jobs {
		r, ok := results[j.key]
		switch {
		case !ok:
			t.Fatalf("job %s (%s %s) has no result", j.key, j.kind, j.game)
		case r["game_id"] != j.game || r["op_kind"] != j.kind:
			t.Fatalf("result of job %s names %s %s, want %s %s", j.key, r["op_kind"], r["game_id"], j.kind, j.game)
		case j.game[len(prefix)+1] == 'p' && (r["outcome"] != "success" || r["error_code"] != ""):
			t.Fatalf("job %s %s: %v, want a fresh success (the start runs first)", j.kind, j.game, r)
		case j.game[len(prefix)+1] == 'l' && r["error_code"] != string(core.CodeNotFound):
			t.Fatalf("stop of a game without runtime: %v, want not_found", r)
		}
		ops, err := db.ListOperations(e.ctx, j.game, 0)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, o := range ops {
			refs = append(refs, string(o.OpKind))
		}
		want := "[stop]"
		if j.game[len(prefix)+1] == 'p' {
			want = "[stop start]" // newest first: the start's entry precedes the stop's
			rec, err := db.Get(e.ctx, j.game)
			if err != nil || rec.Status != core.StatusStopped {
				t.Fatalf("record of %s after start, stop: %+v, %v", j.game, rec, err)
			}
		}
		if got := fmt.Sprint(refs); got != want {
			t.Fatalf("audit entries of %s, newest first: %s, want %s", j.game, got, want)
		}
	}
	if cs, err := driver.List(e.ctx, map[string]string{ports.LabelManaged: "true"}); err != nil || len(cs) != pairs {
		t.Fatalf("%d containers (%v), want the %d stopped ones", len(cs), err, pairs)
	}

	for _, call := range []string{"acquire", "release", "get", "list", "append", "create", "running", "complete"} {
		calls, items := seen.calls(call)
		t.Logf("%s: %d items in %d calls", call, items, calls)
		if items == 0 {
			t.Fatalf("no %s calls", call)
		}
		// Running writes are batched only with BatchRunningWrites.
		alone := !batched || (call == "running" && !batchRun)
		if !alone && call != "append" && calls >= items {
			t.Errorf("batched: %d %s items in %d calls; want batches", items, call, calls)
		}
		if alone && calls != items {
			t.Errorf("per call: %d %s items in %d calls", items, call, calls)
		}
	}
}

// openPostgres opens and migrates the PostgreSQL store of the test
// environment; it is closed when t ends.
func openPostgres(t *testing.T, e *env) *sqlstore.Store {
	t.Helper()
	db, err := sqlstore.Open(e.ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(e.ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}
