package rest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/hosts"
	"github.com/galaxy-game/rtmanager/ports"
)

// serve runs e's handler on a real TCP listener on 127.0.0.1 with the
// production server limits of rest.NewHTTPServer.
func (e *env) serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.handler)
	srv.Config = rest.NewHTTPServer(e.handler)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// send sends r over the network and validates the answer against
// docs/openapi.yaml.
func send(t *testing.T, r *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	res := reply{status: resp.StatusCode, header: resp.Header, body: body}
	validate(t, r, res)
	return res
}

func newReq(t *testing.T, method, url, contentType, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// mustBeUntouched fails unless no record, operation or container exists.
func (e *env) mustBeUntouched(t *testing.T) {
	t.Helper()
	if _, err := e.store.Get(context.Background(), "g"); err == nil {
		t.Error("a record was stored")
	}
	if ops := e.store.Operations(); len(ops) != 0 {
		t.Errorf("operations were logged: %+v", ops)
	}
	if cs, _ := e.driver.List(context.Background(), nil); len(cs) != 0 {
		t.Errorf("containers were started: %+v", cs)
	}
}

// TestCrossSitePost: a page on another site can make the browser POST a
// form (urlencoded, multipart) or text/plain to the token-less API
// without a CORS preflight. None of them may reach an operation.
func TestCrossSitePost(t *testing.T) {
	e := newEnv(t, options{})
	srv := e.serve(t)
	start := srv.URL + api + "g/start"
	body := `{"image_ref":"` + imageOK + `"}`
	for _, ct := range []string{
		"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"", "application/jsonx", "application/json; charset=latin1", "application/vnd.api+json", "application/json;;",
	} {
		t.Run(ct, func(t *testing.T) {
			for _, path := range []string{start, srv.URL + api + "g/restart", srv.URL + api + "g/stop"} {
				res := send(t, newReq(t, http.MethodPost, path, ct, body))
				if res.status != http.StatusUnsupportedMediaType || res.code(t) != "invalid_request" {
					t.Errorf("POST %s as %q: %d %s, want 415 invalid_request", path, ct, res.status, res.body)
				}
			}
		})
	}
	r := newReq(t, http.MethodPost, start, "application/json", body)
	r.Header.Add("Content-Type", "text/plain")
	if res := send(t, r); res.status != http.StatusUnsupportedMediaType {
		t.Errorf("two Content-Types: %d %s", res.status, res.body)
	}
	e.mustBeUntouched(t)

	if res := send(t, newReq(t, http.MethodPost, start, "application/json; charset=UTF-8", body)); res.status != http.StatusOK {
		t.Fatalf("JSON start: %d %s", res.status, res.body)
	}
}

// TestDNSRebinding: a hostile name rebound to 127.0.0.1 reaches the
// listener with its own name in Host; only loopback names and the allowed
// hosts are served, with or without a token. Probes answer every Host.
func TestDNSRebinding(t *testing.T) {
	allowed, err := hosts.ParseAllowed("rtm.example,api.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"", "s3cret"} {
		t.Run("token="+token, func(t *testing.T) {
			e := newEnv(t, options{token: token, hosts: allowed})
			srv := e.serve(t)
			do := func(method, path, host string) reply {
				r := newReq(t, method, srv.URL+path, "application/json", `{"image_ref":"`+imageOK+`"}`)
				r.Host = host
				if token != "" {
					r.Header.Set("Authorization", "Bearer "+token)
				}
				return send(t, r)
			}
			for _, host := range []string{"evil.example:8080", "evil.example", "rtm.example.evil.example", "api.example:8080",
				"0.0.0.0:8080", "127.0.0.1.nip.io", "localhost.evil.example"} {
				for _, rt := range [][2]string{{"POST", api + "g/start"}, {"GET", "/api/v1/internal/runtimes"},
					{"GET", api + "g"}, {"GET", "/status"}, {"GET", "/metrics"}, {"GET", "/openapi.yaml"}} {
					if res := do(rt[0], rt[1], host); res.status != http.StatusForbidden || res.code(t) != "forbidden" ||
						!strings.Contains(string(res.body), "RTMANAGER_ALLOWED_HOSTS") {
						t.Errorf("%s %s with Host %s: %d %s, want 403 forbidden", rt[0], rt[1], host, res.status, res.body)
					}
				}
			}
			e.mustBeUntouched(t)
			for _, path := range []string{"/healthz", "/readyz"} {
				if res := do("GET", path, "10.1.2.3:8080"); res.status != http.StatusOK {
					t.Errorf("%s by pod address: %d %s", path, res.status, res.body)
				}
			}
			for _, host := range []string{"localhost:1", "127.0.0.1", "[::1]:8080", "LOCALHOST.", "rtm.example:9999", "api.example:8443"} {
				if res := do("GET", "/api/v1/internal/runtimes", host); res.status != http.StatusOK {
					t.Errorf("Host %s: %d %s", host, res.status, res.body)
				}
			}
		})
	}
}

// TestAdminUserTrust: X-Admin-User names who acted in the audit log, so a
// caller that proved nothing may not set it: without a token only a
// loopback peer may; with a token only an authenticated request reaches
// it. The peer address comes from the connection, so the non-loopback
// peer is set on the request (test traffic stays on 127.0.0.1).
func TestAdminUserTrust(t *testing.T) {
	stop := func(e *env, peer string, header ...string) reply {
		r := req(t, http.MethodPost, api+"g/stop", map[string]any{"reason": "admin_request"}, header...)
		r.RemoteAddr = peer
		return e.do(t, r)
	}
	e := newEnv(t, options{})
	e.mustStart(t, "g", imageOK)
	before := len(e.store.Operations())
	res := stop(e, "203.0.113.7:40000", rest.HeaderAdminUser, "mallory")
	if res.status != http.StatusForbidden || res.code(t) != "forbidden" || !strings.Contains(string(res.body), "RTMANAGER_API_TOKEN") {
		t.Fatalf("X-Admin-User from a remote peer without auth: %d %s, want 403 forbidden", res.status, res.body)
	}
	if ops := e.store.Operations(); len(ops) != before {
		t.Fatalf("the refused request was logged: %+v", ops[before:])
	}
	if res := stop(e, "203.0.113.7:40000"); res.status != 200 {
		t.Fatalf("stop from a remote peer without X-Admin-User: %d %s", res.status, res.body)
	}
	if last := lastOp(e); last.OpSource != core.SourceREST {
		t.Errorf("op_source = %s, want rest", last.OpSource)
	}
	e.mustStart(t, "g", imageOK)
	if res := stop(e, "[::1]:40000", rest.HeaderAdminUser, "alice"); res.status != 200 {
		t.Fatalf("X-Admin-User from loopback: %d %s", res.status, res.body)
	}
	if last := lastOp(e); last.OpSource != core.SourceAdmin || last.SourceRef != "alice" {
		t.Errorf("op = %s %q, want admin alice", last.OpSource, last.SourceRef)
	}

	e = newEnv(t, options{token: "s3cret"})
	if res := e.call(t, http.MethodPost, api+"g/start", map[string]any{"image_ref": imageOK}, "Authorization", "Bearer s3cret"); res.status != 200 {
		t.Fatalf("start: %d %s", res.status, res.body)
	}
	if res := stop(e, "203.0.113.7:40000", rest.HeaderAdminUser, "mallory"); res.status != http.StatusUnauthorized {
		t.Fatalf("X-Admin-User without the token: %d %s", res.status, res.body)
	}
	if res := stop(e, "203.0.113.7:40000", rest.HeaderAdminUser, "bob", "Authorization", "Bearer s3cret"); res.status != 200 {
		t.Fatalf("X-Admin-User with the token: %d %s", res.status, res.body)
	}
	if last := lastOp(e); last.OpSource != core.SourceAdmin || last.SourceRef != "bob" {
		t.Errorf("op = %s %q, want admin bob", last.OpSource, last.SourceRef)
	}
}

func lastOp(e *env) core.OperationEntry {
	ops := e.store.Operations()
	return ops[len(ops)-1]
}

// TestSlowBody: a client that sends a POST's headers and then trickles
// (or never finishes) its body is cut off after the body timeout instead
// of holding a handler and a connection for ever; nothing is started.
func TestSlowBody(t *testing.T) {
	e := newEnv(t, options{bodyTTL: 300 * time.Millisecond})
	srv := e.serve(t)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	fmt.Fprintf(conn, "POST %sg/start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"image_ref\":", api)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body within 10s: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	took := time.Since(began)
	if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("invalid_request")) {
		t.Errorf("stalled body: %d %s, want 400 invalid_request", resp.StatusCode, body)
	}
	if took > 5*time.Second {
		t.Errorf("a stalled body held the handler %s", took)
	}
	t.Logf("a stalled POST body was answered after %s (body timeout 300ms)", took.Round(time.Millisecond))
	e.mustBeUntouched(t)

	// A body that arrives in time is served, and the connection stays usable.
	r := newReq(t, http.MethodPost, srv.URL+api+"g/start", "application/json", `{"image_ref":"`+imageOK+`"}`)
	if res := send(t, r); res.status != 200 {
		t.Fatalf("start: %d %s", res.status, res.body)
	}
}

// TestLongOperationOutlivesBodyTimeout: the body deadline ends with the
// body. An operation that runs longer than it (a start waiting for a slow
// engine) is answered in full, and its kept-alive connection still serves
// reads: a deadline left running would fail the server's background read
// and cancel the context of every later request on the connection.
func TestLongOperationOutlivesBodyTimeout(t *testing.T) {
	e := newEnv(t, options{bodyTTL: 100 * time.Millisecond})
	e.driver.AddImage("games/slow:1", fakedriver.Behavior{NeverReady: true}) // start_failed after the 1s start timeout
	srv := e.serve(t)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
	do := func(r *http.Request) (int, []byte) {
		resp, err := client.Do(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.URL, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the answer: %v", r.Method, r.URL, err)
		}
		return resp.StatusCode, body
	}
	began := time.Now()
	st, body := do(newReq(t, http.MethodPost, srv.URL+api+"g/start", "application/json", `{"image_ref":"games/slow:1"}`))
	if st != http.StatusBadGateway || !bytes.Contains(body, []byte("start_failed")) {
		t.Fatalf("slow start: %d %s, want 502 start_failed", st, body)
	}
	t.Logf("slow start answered after %s (body timeout 100ms)", time.Since(began).Round(time.Millisecond))
	for range 2 {
		if st, body := do(newReq(t, http.MethodGet, srv.URL+"/api/v1/internal/runtimes", "", "")); st != 200 {
			t.Fatalf("list on the same connection: %d %s", st, body)
		}
	}
	if len(reused) != 3 || !reused[1] || !reused[2] {
		t.Errorf("the connection was not kept alive: reused %v", reused)
	}
}

// TestHeaderLimit: request headers beyond rest.MaxHeaderBytes are refused
// by the server before any handler runs.
func TestHeaderLimit(t *testing.T) {
	e := newEnv(t, options{})
	srv := e.serve(t)
	r := newReq(t, http.MethodGet, srv.URL+"/api/v1/internal/runtimes", "", "")
	r.Header.Set("X-Padding", strings.Repeat("a", 2*rest.MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %d, want 431", resp.StatusCode)
	}
}

// TestReadyzNamesDependency: /readyz lists the failing dependencies by
// name; their error text (which may quote a URL with a password) goes to
// the log, redacted, once per change of state.
func TestReadyzNamesDependency(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := newEnv(t, options{log: log, ready: func(context.Context) error {
		return errors.New("dial postgres://rtm:hunter2@db.internal:5432/rtm: connection refused")
	}})
	srv := e.serve(t)
	for range 3 {
		res := send(t, newReq(t, http.MethodGet, srv.URL+"/readyz", "", ""))
		if res.status != http.StatusServiceUnavailable || string(res.body) != `{"status":"unavailable","failing":["store"]}`+"\n" {
			t.Fatalf("readyz: %d %s", res.status, res.body)
		}
	}
	out := logs.String()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "db.internal") || strings.Count(out, "readiness check failed") != 1 {
		t.Errorf("want one redacted warning naming the error, got:\n%s", out)
	}
}

// TestErrorBodiesHideSecrets: an error body quoting a dependency's error
// never carries a URL password.
func TestErrorBodiesHideSecrets(t *testing.T) {
	e := newEnv(t, options{})
	e.store.FailNext(memory.MethodGet, fmt.Errorf("%w: dial postgres://rtm:hunter2@db.internal/rtm", ports.ErrUnavailable))
	res := e.call(t, http.MethodGet, api+"g", nil)
	if res.status != http.StatusServiceUnavailable || bytes.Contains(res.body, []byte("hunter2")) ||
		!bytes.Contains(res.body, []byte("postgres://rtm:***@db.internal/rtm")) {
		t.Errorf("store down: %d %s, want 503 with the password masked", res.status, res.body)
	}
}
