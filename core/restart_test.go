package core_test

import (
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code int
		oom  bool
		want core.ExitClass
	}{
		{0, false, core.ExitClean},
		{1, false, core.ExitCrash},
		{2, false, core.ExitCrash},
		{-1, false, core.ExitCrash}, // unknown exit status
		{128, false, core.ExitCrash},
		{137, false, core.ExitKilled}, // SIGKILL is not an OOM kill without the flag
		{143, false, core.ExitKilled},
		{129, false, core.ExitKilled},
		{192, false, core.ExitKilled},
		{193, false, core.ExitCrash},
		{255, false, core.ExitCrash},
		{137, true, core.ExitOOM},
		{0, true, core.ExitOOM}, // the runtime's flag wins
		{1, true, core.ExitOOM},
	} {
		if got := core.Classify(tc.code, tc.oom); got != tc.want {
			t.Errorf("Classify(%d, oom=%v) = %s, want %s", tc.code, tc.oom, got, tc.want)
		}
	}
}

func TestPolicyRestarts(t *testing.T) {
	want := map[core.RestartMode]map[core.ExitClass]bool{
		core.RestartNever:     {},
		"":                    {},
		core.RestartOnFailure: {core.ExitCrash: true, core.ExitOOM: true, core.ExitKilled: true},
		core.RestartAlways:    {core.ExitClean: true, core.ExitCrash: true, core.ExitOOM: true, core.ExitKilled: true},
	}
	for mode, classes := range want {
		for _, c := range core.ExitClasses() {
			if got := (core.RestartPolicy{Mode: mode}).Restarts(c); got != classes[c] {
				t.Errorf("mode %q restarts after %s = %v, want %v", mode, c, got, classes[c])
			}
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := core.Backoff{Base: 10 * time.Second, Max: 5 * time.Minute, ResetAfter: 10 * time.Minute}
	for _, tc := range []struct {
		streak int
		want   time.Duration
	}{
		{-1, 10 * time.Second}, {0, 10 * time.Second}, {1, 20 * time.Second}, {2, 40 * time.Second},
		{3, 80 * time.Second}, {4, 160 * time.Second}, {5, 5 * time.Minute}, {6, 5 * time.Minute},
		{1 << 20, 5 * time.Minute}, // no overflow however long the streak
	} {
		if got := b.Delay(tc.streak); got != tc.want {
			t.Errorf("Delay(%d) = %s, want %s", tc.streak, got, tc.want)
		}
	}
	odd := core.Backoff{Base: 3 * time.Second, Max: 7 * time.Second}
	if got := odd.Delay(1); got != 6*time.Second {
		t.Errorf("Delay(1) with max 7s = %s, want 6s", got)
	}
	if got := odd.Delay(2); got != 7*time.Second {
		t.Errorf("Delay(2) with max 7s = %s, want the cap 7s", got)
	}
}

func TestParseRestartPolicy(t *testing.T) {
	def := core.RestartPolicy{Mode: core.RestartNever, MaxRestarts: 5, Window: 10 * time.Minute}
	for _, tc := range []struct {
		raw     string
		want    core.RestartPolicy
		invalid bool
	}{
		{raw: "", want: def},
		{raw: "null", want: def},
		{raw: `{}`, want: def},
		{raw: `{"mode":"on_failure"}`, want: core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 5, Window: 10 * time.Minute}},
		{raw: `{"mode":"always","max_restarts":3,"window":"30s"}`, want: core.RestartPolicy{Mode: core.RestartAlways, MaxRestarts: 3, Window: 30 * time.Second}},
		{raw: `{"mode":"on_failure","max_restarts":0}`, want: core.RestartPolicy{Mode: core.RestartOnFailure, Window: 10 * time.Minute}},
		{raw: `{"mode":"sometimes"}`, invalid: true},
		{raw: `{"mode":""}`, invalid: true},
		{raw: `{"max_restarts":-1}`, invalid: true},
		{raw: `{"max_restarts":1001}`, invalid: true},
		{raw: `{"max_restarts":"5"}`, invalid: true},
		{raw: `{"window":"10"}`, invalid: true},
		{raw: `{"window":"0s"}`, invalid: true},
		{raw: `{"window":"-1m"}`, invalid: true},
		{raw: `{"window":"200h"}`, invalid: true},
		{raw: `{"mode":"always","extra":1}`, invalid: true},
		{raw: `{"mode":"always"} {}`, invalid: true},
		{raw: `[]`, invalid: true},
		{raw: `"on_failure"`, invalid: true},
	} {
		got, err := core.ParseRestartPolicy([]byte(tc.raw), def)
		switch {
		case tc.invalid && core.CodeOf(err) != core.CodeInvalidRequest:
			t.Errorf("ParseRestartPolicy(%s) = %+v, %v; want invalid_request", tc.raw, got, err)
		case !tc.invalid && (err != nil || got != tc.want):
			t.Errorf("ParseRestartPolicy(%s) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestRestartPolicyJSONRoundTrip(t *testing.T) {
	p := core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 3, Window: 90 * time.Second}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"mode":"on_failure","max_restarts":3,"window":"1m30s"}` {
		t.Fatalf("MarshalJSON = %s", b)
	}
	var back core.RestartPolicy
	if err := back.UnmarshalJSON(b); err != nil || back != p {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
}

// crashLoopStep is one event in a game's life under a restart policy: the
// engine runs for ran, then exits with exit; want is the verdict.
type crashLoopStep struct {
	ran       time.Duration
	exit      core.Exit
	want      core.ExitVerdict
	wantDelay time.Duration
}

func TestExitedArithmetic(t *testing.T) {
	b := core.Backoff{Base: time.Second, Max: 8 * time.Second, ResetAfter: time.Minute}
	onFailure := core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 3, Window: 10 * time.Minute}
	crash, clean := core.Exit{Code: 1}, core.Exit{Code: 0}
	for _, tc := range []struct {
		name   string
		policy core.RestartPolicy
		steps  []crashLoopStep
	}{
		{"never restarts", core.RestartPolicy{Mode: core.RestartNever, MaxRestarts: 3, Window: time.Minute},
			[]crashLoopStep{{ran: time.Second, exit: crash, want: core.StayStopped}}},
		{"on_failure leaves a clean exit", onFailure,
			[]crashLoopStep{{ran: time.Second, exit: clean, want: core.StayStopped}}},
		{"on_failure restarts an OOM kill and a foreign SIGKILL", onFailure, []crashLoopStep{
			{ran: time.Second, exit: core.Exit{Code: 137, OOMKilled: true}, want: core.RestartLater, wantDelay: time.Second},
			{ran: time.Second, exit: core.Exit{Code: 137}, want: core.RestartLater, wantDelay: 2 * time.Second},
		}},
		{"always restarts a clean exit", core.RestartPolicy{Mode: core.RestartAlways, MaxRestarts: 3, Window: time.Minute},
			[]crashLoopStep{{ran: time.Second, exit: clean, want: core.RestartLater, wantDelay: time.Second}}},
		{"backoff doubles to its cap, then a crash loop after max_restarts", onFailure, []crashLoopStep{
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 2 * time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 4 * time.Second},
			{ran: time.Second, exit: crash, want: core.CrashLoop},
		}},
		{"cap holds", core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 10, Window: time.Hour}, []crashLoopStep{
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 2 * time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 4 * time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 8 * time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 8 * time.Second},
		}},
		{"a long run resets the streak but not the window", onFailure, []crashLoopStep{
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: 2 * time.Second},
			{ran: time.Minute, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: time.Second, exit: crash, want: core.CrashLoop},
		}},
		{"restarts leave the window", core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: 2, Window: 2 * time.Minute}, []crashLoopStep{
			{ran: time.Second, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: 2 * time.Minute, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: 2 * time.Minute, exit: crash, want: core.RestartLater, wantDelay: time.Second},
			{ran: 2 * time.Minute, exit: crash, want: core.RestartLater, wantDelay: time.Second},
		}},
		{"max_restarts 0 gives up at once", core.RestartPolicy{Mode: core.RestartAlways, Window: time.Minute},
			[]crashLoopStep{{ran: time.Hour, exit: clean, want: core.CrashLoop}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			rec := core.Record{GameID: "g"}.Starting("img:1", nil, now).Fresh(tc.policy).Running("c", "e", now)
			for i, st := range tc.steps {
				now = now.Add(st.ran)
				next, v := rec.Exited(st.exit, now, b)
				if v != st.want {
					t.Fatalf("step %d: verdict %d, want %d (record %+v)", i, v, st.want, next)
				}
				if next.Status != core.StatusStopped || next.Crash.LastExitCode != st.exit.Code || next.Crash.LastExitClass != st.exit.Class() {
					t.Fatalf("step %d: record %+v", i, next)
				}
				if v != core.RestartLater {
					if next.NextRestartAt != nil {
						t.Fatalf("step %d: verdict %d with a pending restart at %s", i, v, next.NextRestartAt)
					}
					return
				}
				if got := next.NextRestartAt.Sub(now); got != st.wantDelay || next.Crash.BackoffMS != st.wantDelay.Milliseconds() {
					t.Fatalf("step %d: delay %s (backoff_ms %d), want %s", i, got, next.Crash.BackoffMS, st.wantDelay)
				}
				if next.RestartDue(now.Add(st.wantDelay - time.Millisecond)) {
					t.Fatalf("step %d: due before its backoff ended", i)
				}
				now = now.Add(st.wantDelay)
				if !next.RestartDue(now) {
					t.Fatalf("step %d: not due after its backoff", i)
				}
				count := next.RestartCount
				rec = next.Restarted(now).Starting(next.ImageRef, nil, now).Running("c", "e", now)
				if rec.RestartCount != count+1 || rec.NextRestartAt != nil || rec.RestartPolicy != tc.policy {
					t.Fatalf("step %d: restarted record %+v", i, rec)
				}
			}
		})
	}
}

func TestOperationsCancelPendingRestart(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := core.RestartPolicy{Mode: core.RestartAlways, MaxRestarts: 3, Window: time.Minute}
	b := core.Backoff{Base: time.Second, Max: time.Minute, ResetAfter: time.Minute}
	pending, v := core.Record{GameID: "g"}.Starting("i", nil, now).Fresh(p).Running("c", "e", now).Exited(core.Exit{Code: 1}, now, b)
	if v != core.RestartLater || pending.NextRestartAt == nil {
		t.Fatalf("setup: %d %+v", v, pending)
	}
	for name, r := range map[string]core.Record{
		"stop":     pending.Stopped(now),
		"cancel":   pending.CancelRestart(now),
		"cleanup":  pending.Removed(now),
		"start":    pending.Starting("i", nil, now),
		"restart":  pending.Starting("i", nil, now).Fresh(p),
		"new game": pending.Fresh(p),
	} {
		if r.NextRestartAt != nil || r.RestartDue(now.Add(time.Hour)) {
			t.Errorf("%s keeps the pending restart: %+v", name, r)
		}
	}
	fresh := pending.Restarted(now).Fresh(p)
	if fresh.RestartCount != 0 || fresh.Crash.Streak != 0 || len(fresh.Crash.History) != 0 {
		t.Errorf("a start does not reset the streak: %+v", fresh)
	}
}

func TestGone(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b := core.Backoff{Base: time.Second, Max: time.Minute, ResetAfter: time.Minute}
	run := func(mode core.RestartMode) core.Record {
		p := core.RestartPolicy{Mode: mode, MaxRestarts: 1, Window: time.Minute}
		return core.Record{GameID: "g"}.Starting("i", nil, now).Fresh(p).Running("c", "e", now)
	}
	if next, v := run(core.RestartNever).Gone(now, b); next.Status != core.StatusRemoved || v != core.StayStopped || next.NextRestartAt != nil {
		t.Errorf("gone under never = %+v, %d; want removed as SPEC §2 says", next, v)
	}
	next, v := run(core.RestartOnFailure).Gone(now, b)
	if next.Status != core.StatusStopped || next.ContainerID != "" || v != core.RestartLater ||
		next.Crash.LastExitClass != core.ExitKilled || !next.RestartDue(now.Add(time.Second)) {
		t.Errorf("gone under on_failure = %+v, %d; want stopped without container, restart due in 1s", next, v)
	}
	again, v := next.Restarted(now).Starting("i", nil, now).Running("c2", "e", now).Gone(now, b)
	if v != core.CrashLoop || again.Status != core.StatusStopped || again.ContainerID != "" || again.NextRestartAt != nil {
		t.Errorf("second gone = %+v, %d; want a crash loop", again, v)
	}
}
