// Package storetest is the contract suite of ports.Store. Every store
// implementation (in-memory, SQLite, Postgres) runs it from its own tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) ports.Store { return open(t) })
//	}
//
// The suite is implementation-neutral: times carry microsecond precision
// (what SQL keeps) and are compared after truncation to microseconds, and
// every subtest uses game ids with a random part, so several subtests may
// share one database. The List subtests use ids that begin with "zz" and
// the wall clock, so they sort after every record of other subtests and
// earlier runs; only a concurrent run of the List subtests against the same
// database can disturb them.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// NewStore returns the store a subtest runs against. It is called once per
// subtest; it should register any cleanup with t.Cleanup.
type NewStore func(t *testing.T) ports.Store

// Run runs every contract case against the stores newStore returns.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Records", recordCases},
		{"List", listCases},
		{"Operations", operationCases},
		{"OperationBatch", operationBatchCases},
		{"BatchReads", batchReadCases},
		{"BatchCreate", batchCreateCases},
		{"Snapshots", snapshotCases},
		{"Races", raceCases},
		{"Reserve", reserveCases},
		{"SwapAppend", swapAppendCases},
		{"SwapSnapshot", swapSnapshotCases},
		{"SwapSnapshotBatch", swapSnapshotBatchCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, newStore(t))
				})
			}
		})
	}
}

// testCase is one named contract case.
type testCase struct {
	name string
	run  func(t *testing.T, s ports.Store)
}

// cmpOpts compares times truncated to microseconds and treats nil and
// empty maps and slices alike (SQL cannot tell them apart).
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
	}),
	cmpopts.EquateEmpty(),
}

// base is the time the suite's timestamps count from; it has microsecond
// precision and sits in a non-UTC zone to catch zone handling bugs.
var base = time.Date(2031, 3, 4, 5, 6, 7, 891234000, time.FixedZone("X", 2*3600))

// at returns base plus n minutes.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// ptr returns a pointer to a copy of t.
func ptr(t time.Time) *time.Time { return &t }

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// newGameID returns a game id made of prefix and a random part.
func newGameID(prefix string) string { return prefix + "-" + randomHex(6) }

// sampleRecord returns a running record of gameID with every field set
// except StoppedAt and RemovedAt.
func sampleRecord(gameID string) core.Record {
	return core.Record{
		GameID:        gameID,
		Status:        core.StatusRunning,
		ContainerID:   "c0ffee" + randomHex(29),
		ImageRef:      "registry.example/engine:1.2.3",
		Endpoint:      "127.0.0.1:41234",
		Generation:    3,
		Env:           map[string]string{"MAP": "north", "PLAYERS": "4", "EMPTY": ""},
		CreatedAt:     at(0),
		StartedAt:     ptr(at(1)),
		LastOpAt:      at(1),
		RestartPolicy: core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 3, Window: 90 * time.Second},
		RestartCount:  2,
		Crash: core.CrashState{Streak: 1, History: []time.Time{at(0), at(1)}, LastExitCode: 137,
			LastExitClass: core.ExitKilled, BackoffMS: 2000},
	}
}

// mustCreate creates rec or fails the test.
func mustCreate(tb testing.TB, ctx context.Context, s ports.Store, rec core.Record) {
	tb.Helper()
	if err := s.Create(ctx, rec); err != nil {
		tb.Fatalf("Create(%s): %v", rec.GameID, err)
	}
}

// mustGet returns the record of gameID or fails the test.
func mustGet(tb testing.TB, ctx context.Context, s ports.Store, gameID string) core.Record {
	tb.Helper()
	r, err := s.Get(ctx, gameID)
	if err != nil {
		tb.Fatalf("Get(%s): %v", gameID, err)
	}
	return r
}

// wantErr fails the test unless err wraps target.
func wantErr(tb testing.TB, what string, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

// diff fails the test when got differs from want.
func diff(tb testing.TB, what string, want, got any) {
	tb.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		tb.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}
