package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// RestartMode says when an engine that exited on its own is restarted.
type RestartMode string

// Restart modes of SPEC §3a. The empty mode (records from before v2) means
// never.
const (
	RestartNever     RestartMode = "never"
	RestartOnFailure RestartMode = "on_failure"
	RestartAlways    RestartMode = "always"
)

// Restart policy limits: values beyond them are invalid_request.
const (
	MaxRestartsLimit  = 1000
	MaxRestartWindow  = 7 * 24 * time.Hour
	MinRestartWindow  = time.Second
	maxRestartJSONLen = 1024
)

// RestartPolicy is a game's automatic restart policy (SPEC §3a): more than
// MaxRestarts automatic restarts within Window is a crash loop.
type RestartPolicy struct {
	Mode        RestartMode
	MaxRestarts int
	Window      time.Duration
}

// restartPolicyJSON is the wire form: window is a Go duration string.
type restartPolicyJSON struct {
	Mode        *string `json:"mode"`
	MaxRestarts *int    `json:"max_restarts"`
	Window      *string `json:"window"`
}

// MarshalJSON encodes p as {"mode","max_restarts","window"}.
func (p RestartPolicy) MarshalJSON() ([]byte, error) {
	mode, window := string(p.Mode), p.Window.String()
	return json.Marshal(restartPolicyJSON{Mode: &mode, MaxRestarts: &p.MaxRestarts, Window: &window})
}

// UnmarshalJSON decodes what MarshalJSON wrote, without validating it
// (ParseRestartPolicy validates input).
func (p *RestartPolicy) UnmarshalJSON(b []byte) error {
	got, err := decodeRestartPolicy(b, RestartPolicy{})
	if err != nil {
		return err
	}
	*p = got
	return nil
}

// ParseRestartPolicy decodes a restart_policy JSON object (the REST body
// field or the stream field): fields it leaves out come from def, and the
// result is validated. Empty raw (or JSON null) is def itself. Errors are
// invalid_request.
func ParseRestartPolicy(raw []byte, def RestartPolicy) (RestartPolicy, error) {
	p, err := decodeRestartPolicy(raw, def)
	if err != nil {
		return RestartPolicy{}, err
	}
	return p, p.Validate()
}

// decodeRestartPolicy is ParseRestartPolicy without the validation.
func decodeRestartPolicy(raw []byte, def RestartPolicy) (RestartPolicy, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	if len(raw) > maxRestartJSONLen {
		return RestartPolicy{}, Errorf(CodeInvalidRequest, "restart_policy is longer than %d bytes", maxRestartJSONLen)
	}
	var w restartPolicyJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return RestartPolicy{}, Errorf(CodeInvalidRequest, "restart_policy must be a JSON object {mode, max_restarts, window}: %v", err)
	}
	if dec.More() {
		return RestartPolicy{}, Errorf(CodeInvalidRequest, "restart_policy has data after its JSON object")
	}
	p := def
	if w.Mode != nil {
		p.Mode = RestartMode(*w.Mode)
	}
	if w.MaxRestarts != nil {
		p.MaxRestarts = *w.MaxRestarts
	}
	if w.Window != nil {
		d, err := time.ParseDuration(*w.Window)
		if err != nil {
			return RestartPolicy{}, Errorf(CodeInvalidRequest, "restart_policy.window %q is not a duration such as \"10m\"", *w.Window)
		}
		p.Window = d
	}
	return p, nil
}

// Validate checks the mode and the bounds of MaxRestarts and Window.
func (p RestartPolicy) Validate() error {
	switch p.Mode {
	case RestartNever, RestartOnFailure, RestartAlways:
	default:
		return Errorf(CodeInvalidRequest, "restart_policy.mode %q must be never, on_failure or always", p.Mode)
	}
	if p.MaxRestarts < 0 || p.MaxRestarts > MaxRestartsLimit {
		return Errorf(CodeInvalidRequest, "restart_policy.max_restarts %d must be within 0..%d", p.MaxRestarts, MaxRestartsLimit)
	}
	if p.Window < MinRestartWindow || p.Window > MaxRestartWindow {
		return Errorf(CodeInvalidRequest, "restart_policy.window %s must be within %s..%s", p.Window, MinRestartWindow, MaxRestartWindow)
	}
	return nil
}

// ExitClass classifies how an engine exited (SPEC §2 container_exited).
type ExitClass string

// Exit classes.
const (
	// ExitClean: exit code 0.
	ExitClean ExitClass = "clean"
	// ExitCrash: a non-zero exit code that is not a signal's, or an
	// unknown one (-1).
	ExitCrash ExitClass = "crash"
	// ExitOOM: the runtime's own OOM-kill flag; never inferred from 137.
	ExitOOM ExitClass = "oom"
	// ExitKilled: ended by a signal (exit code 128+n, n = 1..64) that
	// rtmanager did not send: an exit rtmanager caused by its own stop
	// happens under the game's lease and moves the record to stopped
	// first, so it is never classified.
	ExitKilled ExitClass = "killed"
)

// ExitClasses returns every class in a fixed order.
func ExitClasses() []ExitClass { return []ExitClass{ExitClean, ExitCrash, ExitOOM, ExitKilled} }

// Classify returns the class of an exit with code, oomKilled being the
// runtime's OOM flag.
func Classify(code int, oomKilled bool) ExitClass {
	switch {
	case oomKilled:
		return ExitOOM
	case code == 0:
		return ExitClean
	case code > 128 && code <= 128+64:
		return ExitKilled
	}
	return ExitCrash
}

// Restarts reports whether p restarts an engine after an exit of class c:
// always after any exit, on_failure after any exit but a clean one (a
// crash, an OOM kill, or a signal from someone other than rtmanager).
func (p RestartPolicy) Restarts(c ExitClass) bool {
	switch p.Mode {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return c != ExitClean
	}
	return false
}

// Backoff is the restart delay arithmetic (RTMANAGER_RESTART_BACKOFF,
// _BACKOFF_MAX and _RESET_AFTER).
type Backoff struct {
	// Base is the delay before the first restart of a streak.
	Base time.Duration
	// Max caps the doubling delay.
	Max time.Duration
	// ResetAfter: an engine that ran this long before it exited starts a
	// new streak.
	ResetAfter time.Duration
}

// Delay returns the delay before the restart that follows streak
// consecutive restarts: Base doubled streak times, capped at Max.
func (b Backoff) Delay(streak int) time.Duration {
	d := b.Base
	for range max(streak, 0) {
		if d >= b.Max/2 {
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

// Validate checks that the delays are positive and Base ≤ Max.
func (b Backoff) Validate() error {
	if b.Base <= 0 || b.Max <= 0 || b.ResetAfter <= 0 {
		return fmt.Errorf("restart backoff %s, max %s and reset-after %s must be positive", b.Base, b.Max, b.ResetAfter)
	}
	if b.Base > b.Max {
		return fmt.Errorf("restart backoff %s is above its maximum %s", b.Base, b.Max)
	}
	return nil
}

// Exit is what the runtime reports about an engine's exit.
type Exit struct {
	Code      int
	OOMKilled bool
	// Gone: the container vanished while it ran (removed by someone other
	// than rtmanager, or its node drained); Code is then -1.
	Gone bool
}

// Class returns the exit's classification; a vanished container was
// killed.
func (e Exit) Class() ExitClass {
	if e.Gone {
		return ExitKilled
	}
	return Classify(e.Code, e.OOMKilled)
}

// CrashState is the automatic-restart bookkeeping of a record.
type CrashState struct {
	// Streak counts consecutive automatic restarts; it sets the backoff and
	// resets when an engine ran Backoff.ResetAfter before it exited.
	Streak int `json:"streak,omitempty"`
	// History holds the times of the automatic restarts within the
	// policy's window, oldest first.
	History []time.Time `json:"history,omitempty"`
	// LastExitCode and LastExitClass describe the exit that scheduled the
	// pending restart (or ended in a crash loop).
	LastExitCode  int       `json:"last_exit_code,omitempty"`
	LastExitClass ExitClass `json:"last_exit_class,omitempty"`
	// BackoffMS is the delay chosen for the pending restart.
	BackoffMS int64 `json:"backoff_ms,omitempty"`
}

// ExitVerdict is what an unplanned exit leads to.
type ExitVerdict uint8

// Exit verdicts.
const (
	// StayStopped: the policy does not restart after this exit.
	StayStopped ExitVerdict = iota
	// RestartLater: a restart is due at the record's NextRestartAt.
	RestartLater
	// CrashLoop: more than MaxRestarts restarts within the window; the
	// game stays stopped with reason crash_loop.
	CrashLoop
)

// Exited returns r after its engine exited on its own at now, and the
// verdict: r is stopped, and either a restart is scheduled (NextRestartAt
// = now + the streak's backoff), or the restarts within the window reached
// MaxRestarts (a crash loop: no restart), or the policy does not restart
// after this exit. The streak resets first when the engine ran at least
// b.ResetAfter.
func (r Record) Exited(e Exit, now time.Time, b Backoff) (Record, ExitVerdict) {
	r = r.Stopped(now)
	c := r.Crash
	c.History = append([]time.Time(nil), c.History...)
	if r.StartedAt != nil && now.Sub(*r.StartedAt) >= b.ResetAfter {
		c.Streak = 0
	}
	cut := 0
	for cut < len(c.History) && now.Sub(c.History[cut]) >= r.RestartPolicy.Window {
		cut++
	}
	c.History = c.History[cut:]
	if len(c.History) == 0 {
		c.History = nil
	}
	c.LastExitCode, c.LastExitClass, c.BackoffMS = e.Code, e.Class(), 0
	r.Crash = c
	switch {
	case !r.RestartPolicy.Restarts(e.Class()):
		return r, StayStopped
	case len(c.History) >= r.RestartPolicy.MaxRestarts:
		return r, CrashLoop
	}
	d := b.Delay(c.Streak)
	r.Crash.BackoffMS = d.Milliseconds()
	r.NextRestartAt = timePtr(now.Add(d))
	return r, RestartLater
}

// Gone returns r after its container vanished while it ran. Without a
// policy that restarts a killed engine it is removed (SPEC §2); otherwise
// it is handled as an exit (see Exited) and stays stopped without a
// container, so the restart (a drained node's game coming back elsewhere)
// or the crash loop is recorded like any other.
func (r Record) Gone(now time.Time, b Backoff) (Record, ExitVerdict) {
	if !r.RestartPolicy.Restarts(ExitKilled) {
		return r.Removed(now), StayStopped
	}
	next, v := r.Exited(Exit{Code: -1, Gone: true}, now, b)
	next.ContainerID = ""
	return next, v
}

// RestartDue reports whether r has a pending automatic restart due at now.
func (r Record) RestartDue(now time.Time) bool {
	return r.Status == StatusStopped && r.NextRestartAt != nil && !r.NextRestartAt.After(now)
}

// Restarted returns the reservation of an automatic restart at now: the
// streak and restart count grow and the restart joins the window's
// history. The restart policy and the rest of the bookkeeping are kept.
func (r Record) Restarted(now time.Time) Record {
	r.RestartCount++
	r.Crash.Streak++
	r.Crash.History = append(append([]time.Time(nil), r.Crash.History...), now)
	r.NextRestartAt = nil
	return r
}

// Fresh returns r with the restart policy p and the automatic-restart
// bookkeeping reset: what an operator or platform start does.
func (r Record) Fresh(p RestartPolicy) Record {
	r.RestartPolicy, r.RestartCount, r.Crash, r.NextRestartAt = p, 0, CrashState{}, nil
	return r
}

// CancelRestart returns r without its pending automatic restart.
func (r Record) CancelRestart(now time.Time) Record {
	r.NextRestartAt, r.LastOpAt = nil, now
	return r
}
