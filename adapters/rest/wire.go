package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/redact"
)

// Runtime is the JSON representation of a runtime record. The job
// environment is deliberately absent: it may hold secrets.
type Runtime struct {
	GameID      string     `json:"game_id"`
	Status      string     `json:"status"`
	ContainerID string     `json:"container_id"`
	ImageRef    string     `json:"image_ref"`
	Endpoint    string     `json:"endpoint"`
	Generation  int64      `json:"generation"`
	CreatedAt   *time.Time `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	StoppedAt   *time.Time `json:"stopped_at"`
	RemovedAt   *time.Time `json:"removed_at"`
	LastOpAt    *time.Time `json:"last_op_at"`
}

// OperationResult is the body of a successful lifecycle operation: a fresh
// success has an empty error code, a replay has replay_no_op.
type OperationResult struct {
	Outcome   string  `json:"outcome"`
	ErrorCode string  `json:"error_code"`
	Runtime   Runtime `json:"runtime"`
}

// RuntimeList is one page of runtimes; NextCursor is empty on the last page.
type RuntimeList struct {
	Items      []Runtime `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// Operation is the JSON representation of one operation-log entry.
type Operation struct {
	ID            int64      `json:"id"`
	GameID        string     `json:"game_id"`
	OpKind        string     `json:"op_kind"`
	OpSource      string     `json:"op_source"`
	SourceRef     string     `json:"source_ref"`
	CorrelationID string     `json:"correlation_id"`
	ImageRef      string     `json:"image_ref"`
	ContainerID   string     `json:"container_id"`
	Outcome       string     `json:"outcome"`
	ErrorCode     string     `json:"error_code"`
	ErrorMessage  string     `json:"error_message"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
}

// OperationList is a game's operation log, newest first.
type OperationList struct {
	Items []Operation `json:"items"`
}

// HealthSnapshot is the JSON representation of a game's latest health event.
type HealthSnapshot struct {
	GameID              string         `json:"game_id"`
	ContainerID         string         `json:"container_id"`
	LastEventType       string         `json:"last_event_type"`
	LastEventAt         *time.Time     `json:"last_event_at"`
	Details             map[string]any `json:"details"`
	ConsecutiveFailures int            `json:"consecutive_failures"`
}

// ErrorBody is the body of every failed request.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a stable error code and an operator-readable message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Status is the body of /healthz and /readyz: "ok", or "unavailable"
// with the names of the failing dependencies (never their error text,
// which may name hosts and users; it goes to the log).
type Status struct {
	Status  string   `json:"status"`
	Failing []string `json:"failing,omitempty"`
}

// utc returns t in UTC, or nil when t is zero; JSON renders it in RFC 3339.
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return utc(*t)
}

func runtimeOf(r core.Record) Runtime {
	return Runtime{
		GameID: r.GameID, Status: string(r.Status), ContainerID: r.ContainerID, ImageRef: r.ImageRef,
		Endpoint: r.Endpoint, Generation: r.Generation, CreatedAt: utc(r.CreatedAt),
		StartedAt: utcPtr(r.StartedAt), StoppedAt: utcPtr(r.StoppedAt), RemovedAt: utcPtr(r.RemovedAt),
		LastOpAt: utc(r.LastOpAt),
	}
}

func resultOf(res lifecycle.Result) OperationResult {
	return OperationResult{Outcome: string(res.Outcome), ErrorCode: string(res.ErrorCode), Runtime: runtimeOf(res.Record)}
}

func operationOf(e core.OperationEntry) Operation {
	return Operation{
		ID: e.ID, GameID: e.GameID, OpKind: string(e.OpKind), OpSource: string(e.OpSource),
		SourceRef: e.SourceRef, CorrelationID: e.CorrelationID, ImageRef: e.ImageRef,
		ContainerID: e.ContainerID, Outcome: string(e.Outcome), ErrorCode: string(e.ErrorCode),
		ErrorMessage: e.ErrorMessage, StartedAt: utc(e.StartedAt), FinishedAt: utc(e.FinishedAt),
	}
}

func snapshotOf(s core.HealthSnapshot) HealthSnapshot {
	details := s.Details
	if details == nil {
		details = map[string]any{}
	}
	return HealthSnapshot{
		GameID: s.GameID, ContainerID: s.ContainerID, LastEventType: string(s.LastEventType),
		LastEventAt: utc(s.LastEventAt), Details: details, ConsecutiveFailures: s.ConsecutiveFailures,
	}
}

// writeJSON writes v with status. v is marshalled before anything is
// written, so a value that cannot be encoded still yields a clean 500.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.ErrorContext(r.Context(), "encode response", "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
		body, _ = json.Marshal(ErrorBody{ErrorDetail{Code: string(core.CodeInternal), Message: "the response could not be encoded"}})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError writes the error body of err with the HTTP status of its code.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := core.CodeOf(err)
	s.writeCode(w, r, code.HTTPStatus(), code, core.MessageOf(err))
}

// writeCode writes an error body with an explicit status, for the few
// answers whose status is not the code's own (405, 415). A URL password
// in the message (a driver or store error quoting its address) is masked.
func (s *server) writeCode(w http.ResponseWriter, r *http.Request, status int, code core.Code, msg string) {
	msg = redact.String(msg)
	if code == core.CodeInternal {
		s.log.ErrorContext(r.Context(), "internal error", "path", r.URL.Path, "err", msg)
	}
	s.writeJSON(w, r, status, ErrorBody{ErrorDetail{Code: string(code), Message: msg}})
}
