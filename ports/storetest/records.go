package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var recordCases = []testCase{
	{"GetMissing", testGetMissing},
	{"CreateRoundTrip", testCreateRoundTrip},
	{"CreateExisting", testCreateExisting},
	{"Swap", testSwap},
	{"SwapStoresEveryField", testSwapStoresEveryField},
	{"NoAliasing", testNoAliasing},
	{"Ping", testPing},
}

func testGetMissing(t *testing.T, s ports.Store) {
	_, err := s.Get(t.Context(), newGameID("missing"))
	wantErr(t, "Get of a missing game", err, ports.ErrNotFound)
}

func testCreateRoundTrip(t *testing.T, s ports.Store) {
	ctx := t.Context()
	full := sampleRecord(newGameID("full"))
	full.Status = core.StatusRemoved
	full.StoppedAt, full.RemovedAt = ptr(at(2)), ptr(at(3))
	bare := core.Record{GameID: newGameID("bare"), Status: core.StatusStarting, Generation: 1,
		CreatedAt: at(0), LastOpAt: at(0)}
	for _, rec := range []core.Record{sampleRecord(newGameID("run")), full, bare} {
		mustCreate(t, ctx, s, rec)
		diff(t, "Get after Create of "+rec.GameID, rec, mustGet(t, ctx, s, rec.GameID))
	}
}

func testCreateExisting(t *testing.T, s ports.Store) {
	ctx := t.Context()
	rec := sampleRecord(newGameID("dup"))
	mustCreate(t, ctx, s, rec)
	other := rec
	other.Status, other.ContainerID, other.Generation = core.StatusStopped, "other", 9
	wantErr(t, "second Create", s.Create(ctx, other), ports.ErrConflict)
	diff(t, "record after the losing Create", rec, mustGet(t, ctx, s, rec.GameID))
}

func testSwap(t *testing.T, s ports.Store) {
	tests := []struct {
		name    string
		create  bool
		expect  func(ports.Expect) ports.Expect
		wantErr error
	}{
		{"Matching", true, func(e ports.Expect) ports.Expect { return e }, nil},
		{"WrongStatus", true, func(e ports.Expect) ports.Expect { e.Status = core.StatusStopped; return e }, ports.ErrConflict},
		{"WrongContainer", true, func(e ports.Expect) ports.Expect { e.ContainerID = "someone-else"; return e }, ports.ErrConflict},
		{"EmptyContainer", true, func(e ports.Expect) ports.Expect { e.ContainerID = ""; return e }, ports.ErrConflict},
		{"WrongGeneration", true, func(e ports.Expect) ports.Expect { e.Generation++; return e }, ports.ErrConflict},
		{"Missing", false, func(e ports.Expect) ports.Expect { return e }, ports.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			rec := sampleRecord(newGameID("swap"))
			if tc.create {
				mustCreate(t, ctx, s, rec)
			}
			next := rec.Stopped(at(5))
			err := s.Swap(ctx, tc.expect(ports.ExpectOf(rec)), next)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Swap: %v", err)
				}
				diff(t, "record after Swap", next, mustGet(t, ctx, s, rec.GameID))
				return
			}
			wantErr(t, "Swap", err, tc.wantErr)
			if tc.create {
				diff(t, "record after a losing Swap", rec, mustGet(t, ctx, s, rec.GameID))
			} else if _, err := s.Get(ctx, rec.GameID); !errors.Is(err, ports.ErrNotFound) {
				t.Errorf("Get after Swap of a missing record: %v, want not found", err)
			}
		})
	}
}

func testSwapStoresEveryField(t *testing.T, s ports.Store) {
	ctx := t.Context()
	rec := sampleRecord(newGameID("fields"))
	mustCreate(t, ctx, s, rec)

	// Every field changes; nil times become set and set ones become nil.
	next := core.Record{
		GameID:        rec.GameID,
		Status:        core.StatusRemoved,
		ContainerID:   "",
		ImageRef:      "registry.example/engine:2.0.0",
		Endpoint:      "",
		Generation:    rec.Generation + 1,
		Env:           nil,
		CreatedAt:     at(100), // ignored: Swap keeps CreatedAt
		StartedAt:     nil,
		StoppedAt:     ptr(at(6)),
		RemovedAt:     ptr(at(7)),
		LastOpAt:      at(7),
		RestartPolicy: core.RestartPolicy{Mode: core.RestartAlways, MaxRestarts: 7, Window: time.Hour},
		RestartCount:  9,
		NextRestartAt: ptr(at(8)),
		Crash:         core.CrashState{Streak: 4, History: []time.Time{at(5)}, LastExitCode: -1, LastExitClass: core.ExitCrash, BackoffMS: 16000},
	}
	if err := s.Swap(ctx, ports.ExpectOf(rec), next); err != nil {
		t.Fatalf("first Swap: %v", err)
	}
	want := next
	want.CreatedAt = rec.CreatedAt
	diff(t, "record after first Swap", want, mustGet(t, ctx, s, rec.GameID))

	// And back: the empty container id matches, pointers return.
	back := rec.Starting("registry.example/engine:3.0.0", map[string]string{"MODE": "ranked"}, at(8)).Running("c2", "127.0.0.1:1", at(9))
	back.StoppedAt, back.RemovedAt = nil, nil
	back = back.Fresh(core.RestartPolicy{Mode: core.RestartNever, MaxRestarts: 5, Window: 10 * time.Minute})
	if err := s.Swap(ctx, ports.ExpectOf(next), back); err != nil {
		t.Fatalf("second Swap: %v", err)
	}
	diff(t, "record after second Swap", back, mustGet(t, ctx, s, rec.GameID))
}

func testNoAliasing(t *testing.T, s ports.Store) {
	ctx := t.Context()
	rec := sampleRecord(newGameID("alias"))
	rec.StoppedAt = ptr(at(2))
	want := rec
	want.StartedAt, want.StoppedAt = ptr(*rec.StartedAt), ptr(*rec.StoppedAt)
	want.Env = map[string]string{}
	for k, v := range rec.Env {
		want.Env[k] = v
	}
	mustCreate(t, ctx, s, rec)
	*rec.StartedAt, *rec.StoppedAt = at(50), at(51)
	rec.Env["MAP"] = "changed"

	got := mustGet(t, ctx, s, rec.GameID)
	diff(t, "record after the caller changed its input", want, got)
	*got.StartedAt = at(60)
	got.Env["PLAYERS"] = "changed"
	diff(t, "record after the caller changed a result", want, mustGet(t, ctx, s, rec.GameID))
}

func testPing(t *testing.T, s ports.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
