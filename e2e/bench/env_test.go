//go:build bench

package bench

import (
	"context"
		"log/slog"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	redisx "github.com/galaxy-game/rtmanager/adapters/redis"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/e2e/testenv"
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
	streams  redisx.Streams
}

// newStack builds a stack on PostgreSQL (pg) or the memory store.
func newStack(tb testing.TB, store ports.Store) *stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := &stack{store: store}
	if store == nil {
		db, err := sqlstore.OpenConfig(ctx, sqlstore.Config{URL: testenv.PostgresURL(tb), MaxConns: 40})
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
	rc, err := redisx.Connect(ctx, testenv.RedisURL(tb), redisx.Options{KeyPrefix: "bench:" + sfx + ":", Streams: s.streams})
	if err != nil {
		tb.Fatal(err)
	}
	s.redis = rc
	tb.Cleanup(func() {
		dropKeys(tb, s.streams)
		rc.Close()
	})
	s.driver = fakedriver.New(nil)
	s.driver.AddImage(benchImage, fakedriver.Behavior{})
	s.services, err = lifecycle.New(lifecycle.Deps{
		Records: s.store, Operations: s.store, Leases: rc.Leases(), Driver: s.driver,
		Health: rc.HealthStream(s.store), Logger: quiet,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// dropKeys deletes the private streams of a stack.
func dropKeys(tb testing.TB, st redisx.Streams) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := rawRedis(tb)
	_ = rc.Do(ctx, rc.B().Del().Key(st.StartJobs, st.StopJobs, st.JobResults, st.HealthEvents).Build()).Error()
}

// rawRedis returns a plain rueidis client on the test Redis, for what the
// adapter does not offer (XADD of jobs, XLEN, DEL); it is closed when tb ends.
func rawRedis(tb testing.TB) rueidis.Client {
	tb.Helper()
	opt, err := rueidis.ParseURL(testenv.RedisURL(tb))
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
