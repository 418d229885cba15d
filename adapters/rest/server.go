// Package rest is rtmanager's internal REST API (SPEC §4): the lifecycle
// operations and the read side of runtime records, operation log and
// health snapshots under /api/v1/internal, plus /healthz, /readyz,
// /metrics and /openapi.yaml. docs/openapi.yaml describes it.
package rest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/docs"
	"github.com/galaxy-game/rtmanager/internal/hosts"
	"github.com/galaxy-game/rtmanager/ports"
)

// BasePath is the prefix of every API route.
const BasePath = "/api/v1/internal"

// DefaultMaxBodyBytes caps request bodies when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// Request and response headers of the API.
const (
	HeaderRequestID     = "X-Request-Id"
	HeaderAdminUser     = "X-Admin-User"
	HeaderCorrelationID = "X-Correlation-Id"
)

// Config holds the collaborators and settings of the REST API.
type Config struct {
	// Services run the lifecycle operations. Required.
	Services *lifecycle.Services
	// Store serves the reads: Get, List, ListOperations and GetSnapshot.
	// Required.
	Store ports.Store
	// Token, when not empty, is the bearer token every API request must
	// carry. /healthz, /readyz, /metrics and /openapi.yaml stay open.
	Token string
	// AllowedHosts are the Host names served besides loopback ones; any
	// other Host is forbidden (DNS rebinding). /healthz and /readyz answer
	// every Host, for orchestrators that probe by pod address.
	AllowedHosts hosts.Allowed
	// MaxBodyBytes caps request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyTimeout bounds reading one POST body; zero means
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
	// Checks are the dependencies /readyz probes, all at once; none means
	// always ready.
	Checks []Check
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Telemetry opens one span per request, named "REST <METHOD> <route>";
	// it defaults to ports.NopTelemetry.
	Telemetry ports.Telemetry
	// Streams ends long-lived answers (logs follow streams) when it is
	// done, e.g. when the service shuts down; nil means never.
	Streams context.Context
	// MaxFollowers caps concurrent logs follow streams; zero means
	// DefaultMaxFollowers.
	MaxFollowers int
}

// Check is one dependency /readyz probes.
type Check struct {
	// Name is what /readyz lists when the probe fails, e.g. "redis".
	Name string
	// Probe returns nil when the dependency answers.
	Probe func(ctx context.Context) error
}

// server serves the API; its methods are the handlers.
type server struct {
	svc         *lifecycle.Services
	store       ports.Store
	token       [sha256.Size]byte
	auth        bool
	allowed     hosts.Allowed
	maxBody     int64
	bodyTimeout time.Duration
	ready       readiness
	metrics     http.Handler
	log         *slog.Logger
	tel         ports.Telemetry
	newReqID    func() string
	streams     context.Context
	followers   chan struct{}
}

// New returns the API handler. It panics when Services or Store is nil or
// MaxBodyBytes is negative: those are wiring bugs caught at start-up.
func New(cfg Config) http.Handler {
	switch {
	case cfg.Services == nil:
		panic("rest: nil Services")
	case cfg.Store == nil:
		panic("rest: nil Store")
	case cfg.MaxBodyBytes < 0:
		panic("rest: negative MaxBodyBytes")
	case cfg.BodyTimeout < 0:
		panic("rest: negative BodyTimeout")
	case cfg.MaxFollowers < 0:
		panic("rest: negative MaxFollowers")
	}
	s := &server{svc: cfg.Services, store: cfg.Store, auth: cfg.Token != "", token: sha256.Sum256([]byte(cfg.Token)),
		allowed: cfg.AllowedHosts, maxBody: cfg.MaxBodyBytes, bodyTimeout: cfg.BodyTimeout,
		ready: readiness{checks: cfg.Checks}, metrics: cfg.Metrics, log: cfg.Logger, tel: cfg.Telemetry, newReqID: rand.Text}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.streams = cfg.Streams
	if s.streams == nil {
		s.streams = context.Background()
	}
	if cfg.MaxFollowers == 0 {
		cfg.MaxFollowers = DefaultMaxFollowers
	}
	s.followers = make(chan struct{}, cfg.MaxFollowers)
	if s.bodyTimeout == 0 {
		s.bodyTimeout = DefaultBodyTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "rest")
	if s.tel == nil {
		s.tel = ports.NopTelemetry{}
	}
	return s.routes()
}

func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.requestID)
	r.NotFound(s.instrument(unmatched, func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, core.Errorf(core.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	}))
	r.MethodNotAllowed(s.instrument(unmatched, func(w http.ResponseWriter, r *http.Request) {
		s.writeCode(w, r, http.StatusMethodNotAllowed, core.CodeInvalidRequest,
			"method "+r.Method+" is not allowed on "+r.URL.Path)
	}))
	s.handle(r, http.MethodGet, "/healthz", s.healthz)
	s.handle(r, http.MethodGet, "/readyz", s.readyz)
	r.Group(func(r chi.Router) {
		r.Use(s.guardHost)
		s.handle(r, http.MethodGet, "/metrics", s.serveMetrics)
		s.handle(r, http.MethodGet, "/openapi.yaml", s.openapi)
		r.With(s.authenticatePage).Method(http.MethodGet, "/status", s.instrument("/status", s.status))
		r.With(s.authenticatePage).Method(http.MethodGet, "/status/games/{game_id}",
			s.instrument("/status/games/{game_id}", s.statusGame))
	})
	r.Route(BasePath, func(r chi.Router) {
		r.Use(s.guardHost, s.authenticate, s.checkHeaders, s.guardAdmin, s.requireJSON)
		s.handle(r, http.MethodGet, "/runtimes", s.listRuntimes)
		s.handle(r, http.MethodGet, "/runtimes/{game_id}", s.getRuntime)
		s.handle(r, http.MethodDelete, "/runtimes/{game_id}", s.cleanup)
		s.handle(r, http.MethodPost, "/runtimes/{game_id}/start", s.start)
		s.handle(r, http.MethodPost, "/runtimes/{game_id}/stop", s.stop)
		s.handle(r, http.MethodPost, "/runtimes/{game_id}/restart", s.restart)
		s.handle(r, http.MethodPost, "/runtimes/{game_id}/patch", s.patch)
		s.handle(r, http.MethodGet, "/runtimes/{game_id}/operations", s.listOperations)
		s.handle(r, http.MethodGet, "/runtimes/{game_id}/health", s.health)
		s.handle(r, http.MethodPost, "/images/pull", s.pullImage)
		s.handle(r, http.MethodGet, "/runtimes/{game_id}/logs", s.logs)
		s.handle(r, http.MethodGet, "/runtimes/{game_id}/stats", s.stats)
	})
	return r
}

// unmatched is the route name of requests no route matched.
const unmatched = "(unmatched)"

// handle registers h for method and pattern, instrumented.
func (s *server) handle(r chi.Router, method, pattern string, h http.HandlerFunc) {
	route := pattern
	if strings.HasPrefix(pattern, "/runtimes") || strings.HasPrefix(pattern, "/images") {
		route = BasePath + pattern
	}
	r.Method(method, pattern, s.instrument(route, h))
}

// instrument wraps h in a span named "REST <METHOD> <route>" and one access
// log line (debug level outside the API).
func (s *server) instrument(route string, h http.HandlerFunc) http.HandlerFunc {
	level := slog.LevelInfo
	if !strings.HasPrefix(route, BasePath) && route != unmatched {
		level = slog.LevelDebug
	}
	return func(w http.ResponseWriter, req *http.Request) {
		began := time.Now()
		ctx, end := s.tel.Span(req.Context(), "REST "+spanMethod(req.Method)+" "+route)
		sw := statusOf(w)
		var failed error
		defer func() {
			if failed == nil && sw.status >= 500 {
				failed = errors.New(http.StatusText(sw.status))
			}
			end(failed)
			s.log.Log(ctx, level, "http request", "method", req.Method, "route", route, "path", req.URL.Path,
				"status", sw.status, "request_id", sw.Header().Get(HeaderRequestID),
				"duration_ms", time.Since(began).Milliseconds())
		}()
		defer func() {
			// Mark the span failed; the recoverer answers the panic.
			if p := recover(); p != nil {
				failed = fmt.Errorf("panic: %v", p)
				sw.status = http.StatusInternalServerError
				panic(p)
			}
		}()
		h(sw, req.WithContext(ctx))
	}
}

// spanMethod returns method when it is a standard HTTP method and OTHER
// otherwise, so clients cannot mint span names.
func spanMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status  int
	written bool
}

func statusOf(w http.ResponseWriter) *statusWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw
	}
	return &statusWriter{ResponseWriter: w, status: http.StatusOK}
}

// WriteHeader implements http.ResponseWriter.
func (w *statusWriter) WriteHeader(status int) {
	if !w.written {
		w.status, w.written = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer turns a panic in a handler into a 500 internal answer and an
// error log line with the stack.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := statusOf(w)
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic in handler", "method", r.Method, "path", r.URL.Path,
				"request_id", sw.Header().Get(HeaderRequestID), "panic", p, "stack", string(debug.Stack()))
			if !sw.written {
				s.writeError(sw, r, core.Errorf(core.CodeInternal, "internal error; see the log for request %s",
					sw.Header().Get(HeaderRequestID)))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyBadRequestID
)

// requestID echoes X-Request-Id, generating one when it is absent (or
// invalid, which the API routes then reject).
func (s *server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		ctx := r.Context()
		if !validHeaderValue(id) {
			if id != "" {
				ctx = context.WithValue(ctx, keyBadRequestID, true)
			}
			id = s.newReqID()
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, keyRequestID, id)))
	})
}

// authenticate checks the bearer token in constant time.
func (s *server) authenticate(next http.Handler) http.Handler {
	if !s.auth {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(h, " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
			msg, challenge := "a bearer token is required", `Bearer realm="rtmanager"`
			if h != "" {
				msg, challenge = "the bearer token is not valid", `Bearer realm="rtmanager", error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			s.writeError(w, r, core.Errorf(core.CodeUnauthorized, "%s", msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHeaders rejects an invalid X-Request-Id or X-Admin-User.
func (s *server) checkHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bad, _ := r.Context().Value(keyBadRequestID).(bool); bad {
			s.writeError(w, r, invalid("%s must be 1 to %d printable characters", HeaderRequestID, MaxHeaderValueLen))
			return
		}
		if vs, ok := r.Header[HeaderAdminUser]; ok && (len(vs) != 1 || !validHeaderValue(vs[0])) {
			s.writeError(w, r, invalid("%s must be given once, as 1 to %d printable characters", HeaderAdminUser, MaxHeaderValueLen))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// meta returns the operation metadata of r: source admin with the admin
// user as reference when X-Admin-User is present, else rest with the
// request id.
func meta(r *http.Request) lifecycle.Meta {
	if u := r.Header.Get(HeaderAdminUser); u != "" {
		return lifecycle.Meta{Source: core.SourceAdmin, SourceRef: u}
	}
	id, _ := r.Context().Value(keyRequestID).(string)
	return lifecycle.Meta{Source: core.SourceREST, SourceRef: id}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, Status{Status: "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if failing := s.ready.check(r.Context(), s.log); len(failing) > 0 {
		s.writeJSON(w, r, http.StatusServiceUnavailable, Status{Status: "unavailable", Failing: failing})
		return
	}
	s.writeJSON(w, r, http.StatusOK, Status{Status: "ok"})
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		s.writeError(w, r, core.Errorf(core.CodeNotFound, "metrics are not enabled"))
		return
	}
	s.metrics.ServeHTTP(w, r)
}

func (s *server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(docs.OpenAPI)
}
