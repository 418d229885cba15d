package core_test

import (
	"fmt"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

// TestDecide covers every cell of the SPEC §2 table plus rtmanager's
// starting status.
func TestDecide(t *testing.T) {
	const (
		P = core.Proceed
		R = core.Replay
		X = core.Refuse
		M = core.Missing
	)
	ops := []core.OpKind{core.OpStart, core.OpStop, core.OpRestart, core.OpPatch, core.OpCleanup}
	table := []struct {
		from      core.Status
		sameImage bool
		want      [5]core.Verdict // start, stop, restart, patch, cleanup
	}{
		{"", false, [5]core.Verdict{P, M, M, M, M}},
		{"", true, [5]core.Verdict{P, M, M, M, M}},
		{core.StatusRunning, true, [5]core.Verdict{R, P, P, R, X}},
		{core.StatusRunning, false, [5]core.Verdict{X, P, P, P, X}},
		{core.StatusStopped, true, [5]core.Verdict{P, R, P, P, P}},
		{core.StatusStopped, false, [5]core.Verdict{P, R, P, P, P}},
		{core.StatusRemoved, true, [5]core.Verdict{P, R, X, X, R}},
		{core.StatusRemoved, false, [5]core.Verdict{P, R, X, X, R}},
		{core.StatusStarting, true, [5]core.Verdict{P, P, X, X, P}},
		{core.StatusStarting, false, [5]core.Verdict{P, P, X, X, P}},
	}
	for _, row := range table {
		for i, op := range ops {
			name := fmt.Sprintf("%s/from=%q/same=%v", op, row.from, row.sameImage)
			t.Run(name, func(t *testing.T) {
				if got := core.Decide(op, row.from, row.sameImage); got != row.want[i] {
					t.Errorf("Decide(%s, %q, %v) = %v, want %v", op, row.from, row.sameImage, got, row.want[i])
				}
			})
		}
	}
	if got := core.Decide(core.OpReconcile, core.StatusRunning, false); got != core.Refuse {
		t.Errorf("Decide(reconcile) = %v, want refuse: reconcile is not a table operation", got)
	}
}

func TestTarget(t *testing.T) {
	for op, want := range map[core.OpKind]core.Status{
		core.OpStart: core.StatusRunning, core.OpRestart: core.StatusRunning, core.OpPatch: core.StatusRunning,
		core.OpStop: core.StatusStopped, core.OpCleanup: core.StatusRemoved,
	} {
		if got := core.Target(op); got != want {
			t.Errorf("Target(%s) = %s, want %s", op, got, want)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[core.Verdict]string{core.Proceed: "proceed", core.Replay: "replay",
		core.Refuse: "refuse", core.Missing: "missing", core.Verdict(42): "verdict(?)"} {
		if got := v.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(v), got, want)
		}
	}
}
