//go:build bench

package bench

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	redisx "github.com/galaxy-game/rtmanager/adapters/redis"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/redis/rueidis"
)

// benchImage is the image the fake driver knows.
const benchImage = "bench/engine:1"

// quiet discards log lines, as a production logger at warn level would
// discard the per-operation info lines.
var quiet = slog.New(slog.DiscardHandler)

// stack is one set of real stores plus the fake driver, private to a
// measurement: a scratch PostgreSQL database and private stream names and
// lease keys on the test Redis.
type stack struct {
	store    ports.Store
	sql      *sqlstore.Store
	redis    *redisx.Client
	driver   *fakedriver.Driver
	services *lifecycle.Services
	// deps built services; a measurement may build more on them.
	deps    lifecycle.Deps
	streams redisx.Streams
	timings *timings
	// unbatched: every lease, audit and result call is its own round trip
	// (lifecycle.Config.Unbatched, ingress.Config.Unbatched).
	unbatched bool
	// pgURL is the scratch database; redisSrv the private redis-server.
	pgURL    string
	redisSrv harness.RedisServer
}

// writes says which combined writes of the store lifecycle sees.
type writes int

const (
	// writesApart: every swap, audit entry and snapshot is a statement
	// of its own (the store's ports.SwapAppender is hidden).
	writesApart writes = iota
	// writesSwapAppend: the last swap and its audit entry together
	// (ports.SwapAppender), the snapshot apart.
	writesSwapAppend
	// writesSwapSnapshot: a start's snapshot joins them too
	// (ports.SwapSnapshotter).
	writesSwapSnapshot
	// writesPublishRelease: and a start's health event goes with the
	// lease release in one Redis round trip (ports.PublishReleaser; the
	// default).
	writesPublishRelease
)

// newStack builds a stack on PostgreSQL (store nil) or on store.
func newStack(tb testing.TB, store ports.Store) *stack {
	tb.Helper()
	return newStackConfig(tb, store, sqlstore.Config{}, writesPublishRelease)
}

// newStackConfig is newStack with the PostgreSQL store configured by cfg
// (URL and MaxConns are set here) and the combined writes w.
func newStackConfig(tb testing.TB, store ports.Store, cfg sqlstore.Config, w writes) *stack {
	tb.Helper()
	return newStackBatch(tb, store, cfg, w, true)
}

// newStackBatch is newStackConfig; batched false makes every lease, audit
// and result call its own round trip, as before batched ingress.
func newStackBatch(tb testing.TB, store ports.Store, cfg sqlstore.Config, w writes, batched bool) *stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := &stack{store: store, unbatched: !batched}
	s.redisSrv = harness.StartRedisServer(tb)
	if store == nil {
		s.pgURL = testenv.PostgresURL(tb)
		db, err := sqlstore.OpenConfig(ctx, withURL(cfg, s.pgURL))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			tb.Fatal(err)
		}
		s.store, s.sql = db, db
	}
	sfx := testenv.RandomSuffix(4)
	s.streams = redisx.Streams{
		StartJobs: "bench:" + sfx + ":start_jobs", StopJobs: "bench:" + sfx + ":stop_jobs",
		JobResults: "bench:" + sfx + ":job_results", HealthEvents: "bench:" + sfx + ":health_events",
		Group: "rtmanager",
	}
	rc, err := redisx.Connect(ctx, s.redisSrv.URL, redisx.Options{KeyPrefix: "bench:" + sfx + ":", Streams: s.streams})
	if err != nil {
		tb.Fatal(err)
	}
	s.redis = rc
	tb.Cleanup(rc.Close)
	s.driver = fakedriver.New(nil)
	s.driver.AddImage(benchImage, fakedriver.Behavior{})
	s.timings = newTimings()
	ts := timedStore{Store: s.store, t: s.timings}
	var records ports.RecordStore = ts
	sa, okSA := s.store.(ports.SwapAppender)
	ss, okSS := s.store.(ports.SwapSnapshotter)
	switch {
	case okSA && okSS && w >= writesSwapSnapshot:
		records = timedSwapSnapshotter{timedSwapAppender{timedStore: ts, sa: sa}, ss}
	case okSA && w >= writesSwapAppend:
		records = timedSwapAppender{timedStore: ts, sa: sa}
	}
	var health ports.HealthPublisher = timedHealth{rc.HealthStream(), s.timings}
	if w >= writesPublishRelease {
		health = timedPublishReleaser{timedHealth{rc.HealthStream(), s.timings}, rc.HealthStream()}
	}
	s.deps = lifecycle.Deps{
		Records: records, Operations: ts, Leases: timedBatchLeases{timedLeases{rc.Leases(), s.timings}, rc.Leases()},
		Driver: s.driver, Health: health, Snapshots: ts, Logger: quiet,
		Config: lifecycle.Config{Unbatched: !batched},
	}
	s.services, err = lifecycle.New(s.deps)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// rawRedis returns a plain rueidis client on the test Redis, for what the
// adapter does not offer (XADD of jobs, XLEN, DEL); it is closed when tb ends.
func rawRedis(tb testing.TB, url string) rueidis.Client {
	tb.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	opt.ForceSingleClient, opt.DisableCache = true, true
	rc, err := rueidis.NewClient(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rc.Close)
	return rc
}

// cpuMeter measures the CPU time the parts of a stack used between start
// and stop: this process, the private redis-server, and the PostgreSQL
// processes serving the scratch database plus the WAL writer.
type cpuMeter struct {
	s     *stack
	begin map[int]time.Duration
	wall  time.Time
}

// cpuUse is what a cpuMeter measured.
type cpuUse struct {
	Wall                   time.Duration
	Bench, Redis, Postgres time.Duration
}

func (u cpuUse) Total() time.Duration { return u.Bench + u.Redis + u.Postgres }

func (s *stack) meter(tb testing.TB) *cpuMeter {
	m := &cpuMeter{s: s, begin: map[int]time.Duration{}}
	for _, pid := range append(s.pgPids(tb), os.Getpid(), s.redisSrv.Pid) {
		m.begin[pid], _ = harness.CPUTime(pid)
	}
	m.wall = time.Now()
	return m
}

func (m *cpuMeter) stop(tb testing.TB) cpuUse {
	u := cpuUse{Wall: time.Since(m.wall)}
	delta := func(pid int) time.Duration {
		now, err := harness.CPUTime(pid)
		if err != nil {
			return 0
		}
		return now - m.begin[pid]
	}
	u.Bench, u.Redis = delta(os.Getpid()), delta(m.s.redisSrv.Pid)
	for _, pid := range m.s.pgPids(tb) {
		u.Postgres += delta(pid)
	}
	return u
}

// pgPids returns the PostgreSQL backends connected to the scratch database
// and the WAL writer (shared with whatever else runs on the server).
func (s *stack) pgPids(tb testing.TB) []int {
	if s.pgURL == "" {
		return nil
	}
	db, err := sql.Open("pgx", s.pgURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT pid FROM pg_stat_activity
		WHERE (datname = current_database() AND pid <> pg_backend_pid()) OR backend_type = 'walwriter'`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			tb.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// withURL returns cfg on url, with a pool of 40 unless cfg sets one.
func withURL(cfg sqlstore.Config, url string) sqlstore.Config {
	cfg.URL = url
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 40
	}
	return cfg
}
