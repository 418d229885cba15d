package core

// Verdict is what the transition table says an operation must do with a
// record in a given status.
type Verdict int

// Verdicts of the transition table.
const (
	// Proceed: the operation does its work and moves the record.
	Proceed Verdict = iota
	// Replay: the desired state already holds; succeed with replay_no_op.
	Replay
	// Refuse: the transition is not allowed; fail with conflict.
	Refuse
	// Missing: there is no record; fail with not_found.
	Missing
)

// String names v for test output.
func (v Verdict) String() string {
	switch v {
	case Proceed:
		return "proceed"
	case Replay:
		return "replay"
	case Refuse:
		return "refuse"
	case Missing:
		return "missing"
	}
	return "verdict(?)"
}

// Decide applies the transition table of SPEC §2. from is the record's
// status, or "" when no record exists. sameImage tells whether the requested
// image equals the record's (it matters for start and patch on a running
// runtime). The table, with rtmanager's choices where SPEC is silent marked *:
//
//	from \ op  start              stop     restart  patch             cleanup
//	(none)     proceed            missing  missing  missing           missing
//	starting*  proceed            proceed  refuse   refuse            proceed
//	running    replay|refuse      proceed  proceed  proceed|replay*   refuse
//	stopped    proceed            replay   proceed  proceed           proceed
//	removed    proceed            replay   refuse   refuse            replay
//
// An operation finds a starting record only after the start that reserved
// it died (the lease it held expired): a new start takes over, and a stop or
// cleanup removes whatever that start left and moves the record to removed. A patch of a
// running runtime to the image it already runs is a replay, so a redelivered
// patch does not restart the game twice.
func Decide(op OpKind, from Status, sameImage bool) Verdict {
	if from == "" {
		if op == OpStart {
			return Proceed
		}
		return Missing
	}
	switch op {
	case OpStart:
		if from == StatusRunning {
			if sameImage {
				return Replay
			}
			return Refuse
		}
		return Proceed
	case OpStop:
		switch from {
		case StatusRunning, StatusStarting:
			return Proceed
		case StatusStopped, StatusRemoved:
			return Replay
		}
	case OpRestart:
		if from == StatusRunning || from == StatusStopped {
			return Proceed
		}
	case OpPatch:
		switch from {
		case StatusRunning:
			if sameImage {
				return Replay
			}
			return Proceed
		case StatusStopped:
			return Proceed
		}
	case OpCleanup:
		switch from {
		case StatusStopped, StatusStarting:
			return Proceed
		case StatusRemoved:
			return Replay
		}
	}
	return Refuse
}

// Target returns the status a successful op leaves the record in.
func Target(op OpKind) Status {
	switch op {
	case OpStop:
		return StatusStopped
	case OpCleanup:
		return StatusRemoved
	}
	return StatusRunning
}
