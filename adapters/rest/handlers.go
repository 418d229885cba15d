package rest

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

func gameID(r *http.Request) string { return chi.URLParam(r, "game_id") }

// opContext is the context a lifecycle operation runs on: r's values (the
// request span, for traces) without its cancellation. A client that hangs
// up or times out must not cut an accepted operation short: a start
// cancelled mid-way would be abandoned (its container removed) and its
// audit entry lost, while the same job from the stream runs to the end.
// The operation stays bounded by the service's own timeouts and lease.
func opContext(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }

// operate answers one lifecycle operation: 200 with an OperationResult for
// a success or replay, the error body with the code's status otherwise.
func (s *server) operate(w http.ResponseWriter, r *http.Request, res lifecycle.Result, err error) {
	if err != nil {
		// Handle returns a Go error only for programmer errors.
		s.writeError(w, r, core.Errorf(core.CodeInternal, "%v", err))
		return
	}
	if res.CorrelationID != "" {
		w.Header().Set(HeaderCorrelationID, res.CorrelationID)
	}
	if res.Outcome != core.OutcomeSuccess {
		if res.Busy {
			w.Header().Set("Retry-After", "1")
		}
		code := res.ErrorCode
		if code == "" || code.Success() {
			code = core.CodeInternal
		}
		s.writeError(w, r, &core.Error{Code: code, Message: res.ErrorMessage})
		return
	}
	s.writeJSON(w, r, http.StatusOK, resultOf(res))
}

// body reads r's body; on failure it answers and returns false.
func (s *server) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return data, true
}

func (s *server) start(w http.ResponseWriter, r *http.Request) {
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	b, err := decodeStart(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.svc.Start.Handle(opContext(r), lifecycle.StartInput{GameID: gameID(r), ImageRef: b.ImageRef, Env: b.Env, Meta: meta(r)})
	s.operate(w, r, res, err)
}

func (s *server) stop(w http.ResponseWriter, r *http.Request) {
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	b, err := decodeStop(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.svc.Stop.Handle(opContext(r), lifecycle.StopInput{GameID: gameID(r), Reason: core.StopReason(b.Reason), Meta: meta(r)})
	s.operate(w, r, res, err)
}

func (s *server) restart(w http.ResponseWriter, r *http.Request) {
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	if err := decodeRestart(data); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.svc.Restart.Handle(opContext(r), lifecycle.RestartInput{GameID: gameID(r), Meta: meta(r)})
	s.operate(w, r, res, err)
}

func (s *server) patch(w http.ResponseWriter, r *http.Request) {
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	b, err := decodePatch(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.svc.Patch.Handle(opContext(r), lifecycle.PatchInput{GameID: gameID(r), ImageRef: b.ImageRef, Meta: meta(r)})
	s.operate(w, r, res, err)
}

func (s *server) cleanup(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Cleanup.Handle(opContext(r), lifecycle.CleanupInput{GameID: gameID(r), Meta: meta(r)})
	s.operate(w, r, res, err)
}

// readError codes a store error of a read through core's one table
// (lifecycle.PortError); notFound, when set, is the message of a not_found
// answer.
func readError(what string, err error, notFound string) error {
	coded := lifecycle.PortError(what, err)
	if coded.Code == core.CodeNotFound && notFound != "" {
		coded.Message = notFound
	}
	return coded
}

func (s *server) getRuntime(w http.ResponseWriter, r *http.Request) {
	id := gameID(r)
	if err := core.ValidateGameID(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := s.store.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, readError("load runtime", err, "game "+quote(id)+" has no runtime"))
		return
	}
	s.writeJSON(w, r, http.StatusOK, runtimeOf(rec))
}

func (s *server) listRuntimes(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	recs, next, err := s.store.List(r.Context(), q)
	if err != nil {
		s.writeError(w, r, readError("list runtimes", err, ""))
		return
	}
	out := RuntimeList{Items: make([]Runtime, 0, len(recs)), NextCursor: encodeCursor(next)}
	for _, rec := range recs {
		out.Items = append(out.Items, runtimeOf(rec))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// listOperations answers a game's operation log. Entries are served even
// when the game has no record (e.g. refused attempts); a game with neither
// is not_found.
func (s *server) listOperations(w http.ResponseWriter, r *http.Request) {
	id := gameID(r)
	if err := core.ValidateGameID(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := parseOperationsQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, err := s.store.ListOperations(r.Context(), id, limit)
	if err != nil {
		s.writeError(w, r, readError("list operations", err, ""))
		return
	}
	if len(entries) == 0 {
		if _, err := s.store.Get(r.Context(), id); err != nil {
			s.writeError(w, r, readError("load runtime", err, "game "+quote(id)+" has no runtime and no operations"))
			return
		}
	}
	out := OperationList{Items: make([]Operation, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, operationOf(e))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	id := gameID(r)
	if err := core.ValidateGameID(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	snap, err := s.store.GetSnapshot(r.Context(), id)
	if err != nil {
		s.writeError(w, r, readError("load health snapshot", err, "game "+quote(id)+" has no health snapshot"))
		return
	}
	s.writeJSON(w, r, http.StatusOK, snapshotOf(snap))
}

func quote(s string) string { return `"` + s + `"` }
