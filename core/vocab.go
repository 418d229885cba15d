package core

import "fmt"

// Status is the lifecycle status of a game's runtime record.
type Status string

// Runtime statuses. StatusStarting is rtmanager's own addition to SPEC §2: a
// start holds it between reserving a new generation and recording the
// container it created. Only a start that crashed midway leaves it visible;
// the reconciler then adopts the container of that generation or moves the
// record to removed.
const (
	StatusStarting Status = "starting"
	StatusRunning  Status = "running"
	StatusStopped  Status = "stopped"
	StatusRemoved  Status = "removed"
)

// Statuses returns every status in a fixed order.
func Statuses() []Status {
	return []Status{StatusStarting, StatusRunning, StatusStopped, StatusRemoved}
}

// ParseStatus returns the status named s or an invalid_request error.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", Errorf(CodeInvalidRequest, "unknown status %q", s)
}

// OpKind names a lifecycle operation.
type OpKind string

// Operation kinds recorded in the operation log.
const (
	OpStart     OpKind = "start"
	OpStop      OpKind = "stop"
	OpRestart   OpKind = "restart"
	OpPatch     OpKind = "patch"
	OpCleanup   OpKind = "cleanup"
	OpReconcile OpKind = "reconcile"
)

// OpSource names how an operation entered rtmanager.
type OpSource string

// Operation sources recorded in the operation log.
const (
	SourceStream     OpSource = "stream"
	SourceREST       OpSource = "rest"
	SourceAdmin      OpSource = "admin"
	SourceReconciler OpSource = "reconciler"
	SourceJanitor    OpSource = "janitor"
)

// Valid reports whether s is a known source.
func (s OpSource) Valid() bool {
	switch s {
	case SourceStream, SourceREST, SourceAdmin, SourceReconciler, SourceJanitor:
		return true
	}
	return false
}

// Outcome is the outcome of one operation attempt.
type Outcome string

// Operation outcomes. A replay is a success whose error code is replay_no_op.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// OutcomeOf returns the outcome of an operation that ended with code.
func OutcomeOf(code Code) Outcome {
	if code.Success() {
		return OutcomeSuccess
	}
	return OutcomeFailure
}

// StopReason classifies why a runtime is stopped.
type StopReason string

// Stop reasons of SPEC §2.
const (
	ReasonGameFinished  StopReason = "game_finished"
	ReasonGameCancelled StopReason = "game_cancelled"
	ReasonAdminRequest  StopReason = "admin_request"
	ReasonIdleTimeout   StopReason = "idle_timeout"
	ReasonRestart       StopReason = "restart"
	ReasonPatch         StopReason = "patch"
	ReasonShutdown      StopReason = "shutdown"
)

// StopReasons returns every stop reason in a fixed order.
func StopReasons() []StopReason {
	return []StopReason{ReasonGameFinished, ReasonGameCancelled, ReasonAdminRequest, ReasonIdleTimeout,
		ReasonRestart, ReasonPatch, ReasonShutdown}
}

// ParseStopReason returns the reason named s or an invalid_request error.
func ParseStopReason(s string) (StopReason, error) {
	for _, r := range StopReasons() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Errorf(CodeInvalidRequest, "unknown stop reason %q", s)
}

// String implements fmt.Stringer.
func (r StopReason) String() string { return string(r) }

var _ fmt.Stringer = StopReason("")
