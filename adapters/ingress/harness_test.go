package ingress_test

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/redis"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

const image = "engine:1"

// backends are the Redis servers the worker tests run against.
var backends = []struct {
	name string
	url  func(tb testing.TB) string
}{
	{"embedded", func(tb testing.TB) string {
		e, err := redis.StartEmbedded("")
		if err != nil {
			tb.Fatalf("StartEmbedded: %v", err)
		}
		tb.Cleanup(e.Close)
		return e.URL()
	}},
	{"redis-server", testenv.RedisURL},
}

// eachBackend runs fn once per backend as a subtest.
func eachBackend(t *testing.T, fn func(t *testing.T, url string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.url(t)) })
	}
}

// env is one worker under test with its fakes and a raw Redis client.
type env struct {
	t       *testing.T
	ctx     context.Context
	raw     rueidis.Client
	client  *redis.Client
	streams redis.Streams
	queue   ports.JobQueue
	store   *memory.Store
	leases  *countingLeases
	driver  *fakedriver.Driver
	cfg     ingress.Config
	stop    func()
}

// failingQueue fails the first n Complete calls with ErrUnavailable.
type failingQueue struct {
	ports.JobQueue
	failures atomic.Int64
}

func (q *failingQueue) Complete(ctx context.Context, job ports.Job, r ports.JobResult) error {
	if q.failures.Add(-1) >= 0 {
		return ports.ErrUnavailable
	}
	return q.JobQueue.Complete(ctx, job, r)
}

// newEnv builds the fakes, the lifecycle services and a queue on url with
// streams unique to the test; the worker is not started yet.
func newEnv(t *testing.T, url string, tweak func(*ingress.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	p := "rtmtest:ingress:" + testenv.RandomSuffix(6) + ":"
	streams := redis.Streams{StartJobs: p + "start_jobs", StopJobs: p + "stop_jobs",
		JobResults: p + "job_results", HealthEvents: p + "health_events"}
	c, err := redis.Connect(ctx, url, redis.Options{KeyPrefix: p, Streams: streams})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(c.Close)
	streams = c.Streams()
	q, err := c.Queue(ctx, "worker-1")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.ForceSingleClient, opt.DisableCache = true, true
	raw, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("raw client: %v", err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		raw.Do(dctx, raw.B().Del().Key(streams.StartJobs, streams.StopJobs, streams.JobResults).Build())
		raw.Close()
	})

	store := memory.NewStore()
	leases := &countingLeases{Leases: memory.NewLeases(nil)}
	driver := fakedriver.New(nil)
	driver.AddImage(image, fakedriver.Behavior{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := mustServices(t, store, leases, driver)
	cfg := ingress.Config{Queue: q, Services: svc, Concurrency: 4, Block: 50 * time.Millisecond,
		ClaimIdle: 300 * time.Millisecond, ConflictRetry: 10 * time.Second, StopGrace: 10 * time.Second,
		StartStream: streams.StartJobs, StopStream: streams.StopJobs, Logger: quiet}
	if tweak != nil {
		tweak(&cfg)
	}
	return &env{t: t, ctx: ctx, raw: raw, client: c, streams: streams, queue: q, store: store, leases: leases,
		driver: driver, cfg: cfg}
}

// countingLeases counts acquisition attempts, so a test can see a busy job
// being retried (retries leave no audit entries).
type countingLeases struct {
	*memory.Leases
	tries atomic.Int64
}

func (l *countingLeases) TryAcquire(ctx context.Context, game, token string, ttl time.Duration) (bool, error) {
	l.tries.Add(1)
	return l.Leases.TryAcquire(ctx, game, token, ttl)
}

// mustServices builds the lifecycle services over the fakes.
func mustServices(t *testing.T, store *memory.Store, leases ports.LeaseStore, driver ports.RuntimeDriver) *lifecycle.Services {
	t.Helper()
	svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Leases: leases,
		Driver: driver, Health: memory.NewHealthRecorder(), Snapshots: store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: lifecycle.Config{StartTimeout: 5 * time.Second, StopTimeout: time.Second}})
	if err != nil {
		t.Fatalf("lifecycle.New: %v", err)
	}
	return svc
}

// blockingDriver holds every Start until release is closed.
type blockingDriver struct {
	ports.RuntimeDriver
	entered chan<- struct{}
	release <-chan struct{}
	calls   *atomic.Int64
}

func (d blockingDriver) Start(ctx context.Context, spec ports.ContainerSpec) (ports.Container, error) {
	d.calls.Add(1)
	hold(ctx, d.entered, d.release)
	return d.RuntimeDriver.Start(ctx, spec)
}

// hold signals entered (without blocking) and waits until release is
// closed or ctx ends.
func hold(ctx context.Context, entered chan<- struct{}, release <-chan struct{}) {
	select {
	case entered <- struct{}{}:
	default:
	}
	select {
	case <-release:
	case <-ctx.Done():
	}
}

// newBlockingServices returns services whose driver Start blocks (see
// blockingDriver).
func newBlockingServices(t *testing.T, e *env, entered chan<- struct{}, release <-chan struct{}) (*lifecycle.Services, *atomic.Int64) {
	calls := new(atomic.Int64)
	return mustServices(t, e.store, e.leases, blockingDriver{RuntimeDriver: e.driver, entered: entered,
		release: release, calls: calls}), calls
}

// deliveries returns the delivery count of the pending entry key ("<stream>
// <id>"), 0 when it is not pending.
func (e *env) deliveries(key string) int64 {
	n, _ := e.pendingEntry(key)
	return n
}

// idle returns how long the pending entry key has been idle, 0 when it is
// not pending.
func (e *env) idle(key string) time.Duration {
	_, d := e.pendingEntry(key)
	return d
}

// pendingEntry returns the delivery count and idle time of the pending
// entry key ("<stream> <id>"); zeros when it is not pending.
func (e *env) pendingEntry(key string) (deliveries int64, idle time.Duration) {
	e.t.Helper()
	stream, id, _ := strings.Cut(key, " ")
	rows, err := e.raw.Do(e.ctx, e.raw.B().Xpending().Key(stream).Group(ports.ConsumerGroup).
		Start(id).End(id).Count(1).Build()).ToArray()
	if err != nil || len(rows) == 0 {
		return 0, 0
	}
	f, err := rows[0].ToArray()
	if err != nil || len(f) < 4 {
		return 0, 0
	}
	ms, _ := f[2].AsInt64()
	n, _ := f[3].AsInt64()
	return n, time.Duration(ms) * time.Millisecond
}

// newLossyEnv is newEnv whose worker loses its first result write and
// gives up at once, so the job it ran stays pending for a claim; a zero
// claimIdle keeps newEnv's.
func newLossyEnv(t *testing.T, url string, claimIdle time.Duration) (*env, *failingQueue) {
	fq := &failingQueue{}
	fq.failures.Store(1)
	e := newEnv(t, url, func(c *ingress.Config) {
		fq.JobQueue = c.Queue
		c.Queue = fq
		c.CompleteRetry = time.Millisecond
		if claimIdle > 0 {
			c.ClaimIdle = claimIdle
		}
	})
	return e, fq
}

// start runs the worker until the test ends or stopWorker is called.
func (e *env) start() {
	e.t.Helper()
	e.stop = e.run(e.cfg)
}

// run starts a worker with cfg until the test ends or the returned stop is
// called.
func (e *env) run(cfg ingress.Config) (stop func()) {
	e.t.Helper()
	w, err := ingress.New(cfg)
	if err != nil {
		e.t.Fatalf("ingress.New: %v", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var stopped atomic.Bool
	stop = func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("Run = %v", err)
			}
		case <-time.After(20 * time.Second):
			e.t.Errorf("Run did not return after cancel")
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// add appends an entry to stream and returns its key, "<stream> <id>":
// entry ids alone repeat across the two job streams.
func (e *env) add(stream string, kv ...string) string {
	e.t.Helper()
	cmd := e.raw.B().Xadd().Key(stream).Id("*").FieldValue()
	for i := 0; i+1 < len(kv); i += 2 {
		cmd = cmd.FieldValue(kv[i], kv[i+1])
	}
	id, err := e.raw.Do(e.ctx, cmd.Build()).ToString()
	if err != nil {
		e.t.Fatalf("XADD %s: %v", stream, err)
	}
	return stream + " " + id
}

// results returns the result entries written so far.
func (e *env) results() []map[string]string {
	e.t.Helper()
	entries, err := e.raw.Do(e.ctx, e.raw.B().Xrange().Key(e.streams.JobResults).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		e.t.Fatalf("XRANGE: %v", err)
	}
	out := make([]map[string]string, 0, len(entries))
	for _, en := range entries {
		out = append(out, en.FieldValues)
	}
	return out
}

// waitResults polls until at least n results exist and returns them by
// job_id.
func (e *env) waitResults(n int) map[string]map[string]string {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rs := e.results()
		if len(rs) >= n {
			byID := map[string]map[string]string{}
			for _, r := range rs {
				byID[r["job_stream"]+" "+r["job_id"]] = r
			}
			return byID
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("got %d results, want %d: %v", len(rs), n, rs)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// waitFor polls cond until it holds or the deadline passes.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by deadline
	}
}

// finish stops the worker and checks that exactly want results exist,
// one per job, and that nothing is left pending.
func (e *env) finish(want int) map[string]map[string]string {
	e.t.Helper()
	e.stop()
	rs := e.results()
	byID := map[string]map[string]string{}
	for _, r := range rs {
		if _, dup := byID[r["job_stream"]+" "+r["job_id"]]; dup {
			e.t.Errorf("job %s has more than one result", r["job_id"])
		}
		byID[r["job_stream"]+" "+r["job_id"]] = r
	}
	if len(rs) != want {
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		e.t.Errorf("got %d results (%v), want %d", len(rs), ids, want)
	}
	pending, err := e.queue.Pending(e.ctx)
	if err != nil {
		e.t.Fatalf("Pending: %v", err)
	}
	for s, n := range pending {
		if n != 0 {
			e.t.Errorf("%d entries left pending on %s", n, s)
		}
	}
	return byID
}
