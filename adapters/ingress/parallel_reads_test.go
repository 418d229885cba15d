package ingress_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// overlapStore is the PostgreSQL store whose record read waits (up to
// overlapWait) for the job-order read of the same game to begin while it
// is in flight, and counts the reads that saw it: with both reads in
// flight at once a stream job waits for one read round trip, not two.
type overlapStore struct {
	*sqlstore.Store
	mu       sync.Mutex
	getting  map[string]bool
	overlaps map[string]int
}

// overlapWait bounds how long a record read waits for the order read.
const overlapWait = time.Second

func (s *overlapStore) Get(ctx context.Context, g string) (core.Record, error) {
	s.mu.Lock()
	s.getting[g] = true
	before := s.overlaps[g]
	s.mu.Unlock()
	deadline := time.Now().Add(overlapWait)
	for {
		s.mu.Lock()
		seen := s.overlaps[g] > before
		if seen || time.Now().After(deadline) {
			s.getting[g] = false
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	return s.Store.Get(ctx, g)
}

func (s *overlapStore) ListOperations(ctx context.Context, g string, limit int) ([]core.OperationEntry, error) {
	deadline := time.Now().Add(overlapWait)
	for {
		// The order read may begin a moment before the record read.
		s.mu.Lock()
		if s.getting[g] {
			s.overlaps[g]++
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return s.Store.ListOperations(ctx, g, limit)
}

// overlapped returns how many record reads of g the order read overlapped.
func (s *overlapStore) overlapped(g string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlaps[g]
}

// TestStreamJobReadsRecordAndOrderAtOnce: a stream job's record read and
// its job-order read (the game's newest audit entries) are in flight at
// the same time, on the real PostgreSQL store, Redis queue and leases and
// the real worker; with lifecycle.Config.SerialReads they run one after the
// other, as before. Either way the job gets its one result and one audit
// entry, and a stop older than an applied start of the game is still
// refused by the order check.
func TestStreamJobReadsRecordAndOrderAtOnce(t *testing.T) {
	for _, serial := range []bool{false, true} {
		t.Run(map[bool]string{false: "parallel", true: "serial"}[serial], func(t *testing.T) {
			e := newEnv(t, testenv.RedisURL(t), nil)
			db := openPostgres(t, e)
			store := &overlapStore{Store: db, getting: map[string]bool{}, overlaps: map[string]int{}}
			driver := fakedriver.New(nil)
			driver.AddImage(image, fakedriver.Behavior{})
			svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Leases: e.client.Leases(),
				Driver: driver, Health: memory.NewHealthRecorder(), Snapshots: store,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				// Unbatched: each job's reads are its own Get and ListOperations.
				Config: lifecycle.Config{StartTimeout: 5 * time.Second, StopTimeout: time.Second,
					Unbatched: true, SerialReads: serial}})
			if err != nil {
				t.Fatalf("lifecycle.New: %v", err)
			}
			e.cfg.Services = svc

			game := "reads-" + testenv.RandomSuffix(6)
			startKey := e.add(e.streams.StartJobs, "game_id", game, "image_ref", image)
			stopKey := e.add(e.streams.StopJobs, "game_id", game, "reason", "admin_request")
			e.start()
			e.waitResults(2)
			results := e.finish(2)
			for _, key := range []string{startKey, stopKey} {
				if r := results[key]; r["outcome"] != string(core.OutcomeSuccess) {
					t.Fatalf("job %s: %v, want success", key, r)
				}
			}
			want := map[bool]int{false: 2, true: 0}[serial]
			if got := store.overlapped(game); got != want {
				t.Fatalf("%d of 2 jobs read record and order at once, want %d (SerialReads %v)", got, want, serial)
			}
			ops, err := db.ListOperations(e.ctx, game, 0)
			if err != nil || len(ops) != 2 {
				t.Fatalf("audit entries of %s: %d (%v), want one per job", game, len(ops), err)
			}

			// The order check still refuses an old job: the start, run again
			// with its seq (older than the applied stop), ends in conflict.
			seq, err := core.ParseJobSeq(strings.TrimPrefix(startKey, e.streams.StartJobs+" "))
			if err != nil {
				t.Fatal(err)
			}
			res, err := svc.Start.Handle(e.ctx, lifecycle.StartInput{GameID: game, ImageRef: image,
				Meta: lifecycle.Meta{Source: core.SourceStream, SourceRef: "redelivered", Seq: seq}})
			if err != nil || res.ErrorCode != core.CodeConflict {
				t.Fatalf("start older than the applied stop: %+v, %v; want conflict", res, err)
			}
		})
	}
}
