package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/docs"
	"github.com/galaxy-game/rtmanager/internal/hosts"
	"github.com/galaxy-game/rtmanager/ports"
)

// Images the harness registers with the fake driver.
const (
	imageOK     = "games/chess:1"
	imageOK2    = "games/chess:2"
	imageBroken = "games/broken:1" // Start fails: start_failed
	imageDies   = "games/dies:1"   // exits during start-up: start_failed
	imageAbsent = "games/absent:1" // never registered: image_unavailable
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// mustRouter loads docs/openapi.yaml once and returns a router over it.
func mustRouter(tb testing.TB) routers.Router {
	tb.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		var doc *openapi3.T
		if doc, specErr = loader.LoadFromData(docs.OpenAPI); specErr != nil {
			return
		}
		specRouter, specErr = legacy.NewRouter(doc)
	})
	if specErr != nil {
		tb.Fatalf("docs/openapi.yaml: %v", specErr)
	}
	return specRouter
}

// env is one API over in-memory fakes and the real lifecycle services.
type env struct {
	store   *memory.Store
	leases  *memory.Leases
	health  *memory.HealthRecorder
	driver  *fakedriver.Driver
	tel     *spans
	handler http.Handler
}

// options tweak the harness.
type options struct {
	token   string
	allow   core.ImageAllow
	maxBody int64
	ready   func(context.Context) error
	metrics http.Handler
	hosts   hosts.Allowed
	bodyTTL time.Duration
	log     *slog.Logger
	// deps, when set, adjusts the lifecycle dependencies before New.
	deps func(*lifecycle.Deps)
	// driver replaces the fake driver (e.g. a real Docker driver).
	driver       ports.RuntimeDriver
	maxFollowers int
}

func newEnv(tb testing.TB, o options) *env {
	tb.Helper()
	e := &env{store: memory.NewStore(), leases: memory.NewLeases(nil), driver: fakedriver.New(nil), tel: &spans{}}
	e.health = memory.NewHealthRecorder()
	e.driver.AddImage(imageOK, fakedriver.Behavior{})
	e.driver.AddImage(imageOK2, fakedriver.Behavior{})
	e.driver.AddImage(imageBroken, fakedriver.Behavior{StartErr: io.ErrClosedPipe})
	e.driver.AddImage(imageDies, fakedriver.Behavior{ExitOnStart: true, ExitCode: 3})
	log := o.log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var drv ports.RuntimeDriver = e.driver
	var prober ports.Prober = e.driver.Prober()
	startTimeout := time.Second
	if o.driver != nil {
		drv, prober, startTimeout = o.driver, nil, time.Minute
	}
	deps := lifecycle.Deps{
		Records: e.store, Operations: e.store, Leases: e.leases, Driver: drv, Health: e.health, Snapshots: e.store,
		Prober: prober, Logger: log,
		Config: lifecycle.Config{Allow: o.allow, StartTimeout: startTimeout, ReadyPoll: time.Millisecond},
	}
	if o.deps != nil {
		o.deps(&deps)
	}
	svc, err := lifecycle.New(deps)
	if err != nil {
		tb.Fatal(err)
	}
	var checks []rest.Check
	if o.ready != nil {
		checks = []rest.Check{{Name: "store", Probe: o.ready}}
	}
	e.handler = rest.New(rest.Config{Services: svc, Store: e.store, Token: o.token, MaxBodyBytes: o.maxBody,
		AllowedHosts: o.hosts, BodyTimeout: o.bodyTTL, Checks: checks, Metrics: o.metrics, Logger: log, Telemetry: e.tel,
		MaxFollowers: o.maxFollowers})
	return e
}

// reply is one recorded response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r reply) json(tb testing.TB) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		tb.Fatalf("response body %q: %v", r.body, err)
	}
	return v
}

// decode decodes the body into v.
func (r reply) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("response body %q: %v", r.body, err)
	}
}

// code returns the error code of an error body.
func (r reply) code(tb testing.TB) string {
	tb.Helper()
	var b rest.ErrorBody
	r.decode(tb, &b)
	return b.Error.Code
}

// req builds a request as a local client sends it: Host 127.0.0.1:8080
// from a loopback peer, Content-Type application/json on every POST. body
// may be nil, a string or a value to marshal.
func req(tb testing.TB, method, path string, body any, header ...string) *http.Request {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Host, r.RemoteAddr = "127.0.0.1:8080", "127.0.0.1:40000"
	if rd != nil || method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// do serves r and validates the response against docs/openapi.yaml when
// the request names a documented route.
func (e *env) do(tb testing.TB, r *http.Request) reply {
	tb.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, r)
	res := reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	validate(tb, r, res)
	return res
}

// call is do(req(...)).
func (e *env) call(tb testing.TB, method, path string, body any, header ...string) reply {
	tb.Helper()
	return e.do(tb, req(tb, method, path, body, header...))
}

// validate checks a response against the OpenAPI document; every status
// must be documented for its route. Requests outside the document (unknown
// routes, wrong methods) are not checked here.
func validate(tb testing.TB, r *http.Request, res reply) {
	tb.Helper()
	if err := checkSpec(tb, r, res); err != nil {
		body := res.body
		if len(body) > 300 {
			body = body[:300]
		}
		tb.Errorf("%s %s → %d %s: response does not match docs/openapi.yaml: %.2000v", r.Method, r.URL, res.status, body, err)
	}
}

// checkSpec returns why res does not match the document's route of r.
func checkSpec(tb testing.TB, r *http.Request, res reply) error {
	tb.Helper()
	route, params, err := mustRouter(tb).FindRoute(r)
	if err != nil {
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 res.status,
		Header:                 res.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(res.body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// spans records the names of the spans the API opens.
type spans struct {
	mu    sync.Mutex
	names []string
	fails []string
}

func (s *spans) OperationDone(context.Context, core.OperationEntry, time.Duration) {}
func (s *spans) LeaseAcquire(context.Context, time.Duration)                       {}
func (s *spans) HealthEvent(context.Context, core.HealthEventType)                 {}
func (s *spans) Panicked(context.Context, string)                                  {}
func (s *spans) ImagePull(context.Context, string, time.Duration)                  {}
func (s *spans) Span(ctx context.Context, name string) (context.Context, func(error)) {
	s.mu.Lock()
	s.names = append(s.names, name)
	s.mu.Unlock()
	return ctx, func(err error) {
		if err != nil {
			s.mu.Lock()
			s.fails = append(s.fails, name)
			s.mu.Unlock()
		}
	}
}

func (s *spans) all() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...), append([]string(nil), s.fails...)
}

// mustStart starts game on image and fails the test unless it succeeds.
func (e *env) mustStart(tb testing.TB, game, image string) rest.OperationResult {
	tb.Helper()
	res := e.call(tb, http.MethodPost, "/api/v1/internal/runtimes/"+game+"/start", map[string]any{"image_ref": image})
	if res.status != http.StatusOK {
		tb.Fatalf("start %s: %d %s", game, res.status, res.body)
	}
	var out rest.OperationResult
	res.decode(tb, &out)
	return out
}

// mustStop stops game and fails the test unless it succeeds.
func (e *env) mustStop(tb testing.TB, game string) {
	tb.Helper()
	res := e.call(tb, http.MethodPost, "/api/v1/internal/runtimes/"+game+"/stop", map[string]any{"reason": "admin_request"})
	if res.status != http.StatusOK {
		tb.Fatalf("stop %s: %d %s", game, res.status, res.body)
	}
}
