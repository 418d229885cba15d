//go:build bench

package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// timings accumulates the wall time spent in each port call, to say where
// an operation's time goes.
type timings struct {
	mu    sync.Mutex
	total map[string]time.Duration
	n     map[string]int
}

func newTimings() *timings {
	return &timings{total: map[string]time.Duration{}, n: map[string]int{}}
}

func (t *timings) since(name string, begin time.Time) {
	d := time.Since(begin)
	t.mu.Lock()
	t.total[name] += d
	t.n[name]++
	t.mu.Unlock()
}

func (t *timings) reset() {
	t.mu.Lock()
	t.total, t.n = map[string]time.Duration{}, map[string]int{}
	t.mu.Unlock()
}

// drainInto adds what t timed to into and resets t.
func (t *timings) drainInto(into *timings) {
	t.mu.Lock()
	total, n := t.total, t.n
	t.total, t.n = map[string]time.Duration{}, map[string]int{}
	t.mu.Unlock()
	into.mu.Lock()
	defer into.mu.Unlock()
	for k, v := range total {
		into.total[k] += v
		into.n[k] += n[k]
	}
}

// table renders calls per operation and mean latency of each call.
func (t *timings) table(ops int64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.n))
	for k := range t.n {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return t.total[names[i]] > t.total[names[j]] })
	var b strings.Builder
	b.WriteString("| port call | calls/op | mean latency | share of time in ports |\n|---|---:|---:|---:|\n")
	var all time.Duration
	for _, k := range names {
		all += t.total[k]
	}
	for _, k := range names {
		fmt.Fprintf(&b, "| %s | %.2f | %s | %.0f %% |\n", k, float64(t.n[k])/float64(max(ops, 1)),
			(t.total[k] / time.Duration(t.n[k])).Round(10*time.Microsecond), 100*float64(t.total[k])/float64(max(all, 1)))
	}
	return b.String()
}

// timedStore wraps a ports.Store and times every call.
type timedStore struct {
	ports.Store
	t *timings
}

func (s timedStore) Get(ctx context.Context, g string) (core.Record, error) {
	defer s.t.since("records.Get (SELECT)", time.Now())
	return s.Store.Get(ctx, g)
}
func (s timedStore) Create(ctx context.Context, r core.Record) error {
	defer s.t.since("records.Create (INSERT, sync commit)", time.Now())
	return s.Store.Create(ctx, r)
}
func (s timedStore) Swap(ctx context.Context, e ports.Expect, r core.Record) error {
	defer s.t.since("records.Swap (UPDATE, sync commit)", time.Now())
	return s.Store.Swap(ctx, e, r)
}
func (s timedStore) AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error) {
	defer s.t.since("oplog.Append (INSERT)", time.Now())
	return s.Store.AppendOperation(ctx, e)
}
func (s timedStore) ListOperations(ctx context.Context, g string, limit int) ([]core.OperationEntry, error) {
	defer s.t.since("oplog.List (SELECT)", time.Now())
	return s.Store.ListOperations(ctx, g, limit)
}
func (s timedStore) GetMany(ctx context.Context, gs []string) (map[string]core.Record, error) {
	defer s.t.since("records.GetMany (SELECT)", time.Now())
	return s.Store.(ports.BatchReader).GetMany(ctx, gs)
}
func (s timedStore) ListOperationsMany(ctx context.Context, gs []string, limit int) (map[string][]core.OperationEntry, error) {
	defer s.t.since("oplog.ListMany (SELECT lateral)", time.Now())
	return s.Store.(ports.BatchReader).ListOperationsMany(ctx, gs, limit)
}
func (s timedStore) CreateMany(ctx context.Context, rs []core.Record) ([]error, error) {
	defer s.t.since("records.CreateMany (INSERT ON CONFLICT, sync commit)", time.Now())
	return s.Store.(ports.BatchCreator).CreateMany(ctx, rs)
}
func (s timedStore) AppendOperations(ctx context.Context, es []core.OperationEntry) ([]int64, error) {
	defer s.t.since("oplog.AppendMany (INSERT … unnest)", time.Now())
	return s.Store.AppendOperations(ctx, es)
}
func (s timedStore) UpsertSnapshot(ctx context.Context, h core.HealthSnapshot) error {
	defer s.t.since("snapshot.Upsert (INSERT ON CONFLICT)", time.Now())
	return s.Store.UpsertSnapshot(ctx, h)
}

// timedSwapAppender is a timedStore that offers the store's
// ports.SwapAppender.
type timedSwapAppender struct {
	timedStore
	sa ports.SwapAppender
}

func (s timedSwapAppender) SwapAppend(ctx context.Context, e ports.Expect, r core.Record, o core.OperationEntry) error {
	defer s.t.since("records.SwapAppend (CTE, sync commit)", time.Now())
	return s.sa.SwapAppend(ctx, e, r, o)
}

// timedSwapSnapshotter is a timedSwapAppender that offers the store's
// ports.SwapSnapshotter.
type timedSwapSnapshotter struct {
	timedSwapAppender
	ss ports.SwapSnapshotter
}

func (s timedSwapSnapshotter) SwapAppendSnapshot(ctx context.Context, e ports.Expect, r core.Record, o core.OperationEntry,
	h core.HealthSnapshot) error {
	defer s.t.since("records.SwapAppendSnapshot (CTE, sync commit)", time.Now())
	return s.ss.SwapAppendSnapshot(ctx, e, r, o, h)
}

// timedLeases wraps a ports.LeaseStore.
type timedLeases struct {
	ports.LeaseStore
	t *timings
}

func (l timedLeases) TryAcquire(ctx context.Context, g, tok string, ttl time.Duration) (bool, error) {
	defer l.t.since("lease.TryAcquire (SET NX PX)", time.Now())
	return l.LeaseStore.TryAcquire(ctx, g, tok, ttl)
}
func (l timedLeases) Release(ctx context.Context, g, tok string) error {
	defer l.t.since("lease.Release (Lua)", time.Now())
	return l.LeaseStore.Release(ctx, g, tok)
}

// timedBatchLeases is a timedLeases that offers the store's
// ports.LeaseBatcher.
type timedBatchLeases struct {
	timedLeases
	lb ports.LeaseBatcher
}

func (l timedBatchLeases) TryAcquireMany(ctx context.Context, cs []ports.LeaseClaim) ([]bool, error) {
	defer l.t.since("lease.TryAcquireMany (Lua)", time.Now())
	return l.lb.TryAcquireMany(ctx, cs)
}
func (l timedBatchLeases) ReleaseMany(ctx context.Context, cs []ports.LeaseClaim) error {
	defer l.t.since("lease.ReleaseMany (Lua)", time.Now())
	return l.lb.ReleaseMany(ctx, cs)
}

// timedHealth wraps a ports.HealthPublisher (the stream append; core
// upserts the snapshot through the store).
type timedHealth struct {
	ports.HealthPublisher
	t *timings
}

func (h timedHealth) Publish(ctx context.Context, ev core.HealthEvent) error {
	defer h.t.since("health.Publish (XADD)", time.Now())
	return h.HealthPublisher.Publish(ctx, ev)
}

// timedPublishReleaser is a timedHealth that offers the stream's
// ports.PublishReleaser, handing it the lease store under timedLeases.
type timedPublishReleaser struct {
	timedHealth
	pr ports.PublishReleaser
}

func (h timedPublishReleaser) PublishRelease(ctx context.Context, ev core.HealthEvent, l ports.LeaseStore,
	game, token string) (bool, error, error) {
	defer h.t.since("health.PublishRelease (XADD + lease release, Lua)", time.Now())
	if tl, ok := l.(timedLeases); ok {
		l = tl.LeaseStore
	}
	return h.pr.PublishRelease(ctx, ev, l, game, token)
}

// perOp returns the calls per operation of the port calls whose names
// start with one of prefixes.
func (t *timings) perOp(ops int64, prefixes ...string) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, v := range t.n {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				n += v
				break
			}
		}
	}
	return float64(n) / float64(max(ops, 1))
}

// SwapAppendSnapshotMany times ports.BatchSwapSnapshotter's call.
func (s timedSwapSnapshotter) SwapAppendSnapshotMany(ctx context.Context, items []ports.SwapSnapshot) ([]error, error) {
	defer s.timedSwapAppender.timedStore.t.since("records.SwapAppendSnapshotMany (pgx batch, one sync commit)", time.Now())
	return s.ss.(ports.BatchSwapSnapshotter).SwapAppendSnapshotMany(ctx, items)
}
