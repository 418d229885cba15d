package rest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/getkin/kin-openapi/openapi3filter"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/docs"
)

func TestListPaging(t *testing.T) {
	e := newEnv(t, options{})
	var all []string
	for i := 7; i >= 1; i-- {
		id := fmt.Sprintf("game-%02d", i)
		e.mustStart(t, id, imageOK)
		all = append([]string{id}, all...)
	}
	e.mustStop(t, "game-02")
	e.mustStop(t, "game-05")

	page := func(q string) rest.RuntimeList {
		t.Helper()
		res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes?"+q, nil)
		if res.status != http.StatusOK {
			t.Fatalf("list ?%s: %d %s", q, res.status, res.body)
		}
		var l rest.RuntimeList
		res.decode(t, &l)
		return l
	}
	var got []string
	var sizes []int
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"limit": {"3"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		l := page(q.Encode())
		sizes = append(sizes, len(l.Items))
		for _, rt := range l.Items {
			got = append(got, rt.GameID)
		}
		if l.NextCursor == "" {
			break
		}
		if strings.Contains(l.NextCursor, "game") {
			t.Errorf("cursor %q is not opaque", l.NextCursor)
		}
		cursor = l.NextCursor
	}
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 3, 1}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}

	l := page("status=stopped")
	if len(l.Items) != 2 || l.Items[0].GameID != "game-02" || l.Items[1].GameID != "game-05" || l.NextCursor != "" {
		t.Errorf("status=stopped: %+v", l)
	}
	if l := page(""); len(l.Items) != 7 || l.NextCursor != "" {
		t.Errorf("default page: %d items, cursor %q", len(l.Items), l.NextCursor)
	}
	if l := page("status=removed"); l.Items == nil || len(l.Items) != 0 {
		t.Errorf("empty page must be [] not null: %+v", l)
	}

	for _, q := range []string{"status=zombie", "limit=0", "limit=1001", "limit=ten", "cursor=%21%21",
		"cursor=" + "QkFE", "sort=asc", "status=running&status=stopped", "limit=1;x"} {
		res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes?"+q, nil)
		if res.status != http.StatusBadRequest || res.code(t) != "invalid_request" {
			t.Errorf("?%s: %d %s", q, res.status, res.body)
		}
	}
}

func TestHealthSnapshot(t *testing.T) {
	e := newEnv(t, options{})
	started := e.mustStart(t, "g", imageOK)
	res := e.call(t, http.MethodGet, api+"g/health", nil)
	if res.status != http.StatusOK {
		t.Fatalf("health: %d %s", res.status, res.body)
	}
	var snap rest.HealthSnapshot
	res.decode(t, &snap)
	if snap.GameID != "g" || snap.ContainerID != started.Runtime.ContainerID || snap.LastEventType != "container_started" ||
		snap.LastEventAt == nil || snap.Details == nil || snap.ConsecutiveFailures != 0 {
		t.Errorf("snapshot = %s", res.body)
	}
	e.store.FailNext("GetSnapshot", nil)
	if res := e.call(t, http.MethodGet, api+"g/health", nil); res.status != http.StatusServiceUnavailable {
		t.Errorf("snapshot store down: %d %s", res.status, res.body)
	}
}

func TestRequestBodies(t *testing.T) {
	e := newEnv(t, options{maxBody: 512})
	tests := []struct {
		name, path, body, contentType, wantMsg string
	}{
		{"too large", "g/start", `{"image_ref":"` + strings.Repeat("x", 600) + `"}`, "", "exceeds 512 bytes"},
		{"unknown field", "g/start", `{"image_ref":"games/chess:1","image":"x"}`, "", `unknown field "image"`},
		{"two values", "g/start", `{"image_ref":"games/chess:1"}{}`, "", "exactly one JSON value"},
		{"trailing garbage", "g/patch", `{"image_ref":"games/chess:1"} x`, "", "exactly one JSON value"},
		{"array", "g/start", `[]`, "", "must be a JSON object"},
		{"null", "g/start", `null`, "", "must be a JSON object"},
		{"syntax", "g/start", `{"image_ref":`, "", "truncated"},
		{"bad syntax", "g/start", `{"image_ref" "x"}`, "", "not valid JSON"},
		{"env not strings", "g/start", `{"image_ref":"games/chess:1","env":{"A":1}}`, "", "env values must be strings"},
		{"image not string", "g/patch", `{"image_ref":7}`, "", "image_ref must be a string"},
		{"stop without reason", "g/stop", `{}`, "", "reason is required"},
		{"stop with empty body", "g/stop", ``, "", "reason is required"},
		{"stop unknown reason", "g/stop", `{"reason":"bored"}`, "", `unknown stop reason "bored"`},
		{"restart with a field", "g/restart", `{"force":true}`, "", `unknown field "force"`},
		{"start without image", "g/start", `{}`, "", "image_ref must not be empty"},
		{"invalid utf-8 image", "g/start", "{\"image_ref\":\"\xff\"}", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req(t, http.MethodPost, api+tt.path, tt.body)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			res := e.do(t, r)
			var b rest.ErrorBody
			res.decode(t, &b)
			if res.status != http.StatusBadRequest || b.Error.Code != "invalid_request" || !strings.Contains(b.Error.Message, tt.wantMsg) {
				t.Errorf("got %d %s, want 400 invalid_request mentioning %q", res.status, res.body, tt.wantMsg)
			}
		})
	}
	// Content-Type is checked before the body: see TestCrossSitePost.
}

func TestProbesMetricsAndSpec(t *testing.T) {
	down := errors.New("postgres unreachable")
	var ready error
	e := newEnv(t, options{ready: func(context.Context) error { return ready }})
	res := e.call(t, http.MethodGet, "/healthz", nil)
	if res.status != 200 || !bytes.Contains(res.body, []byte(`"status":"ok"`)) {
		t.Errorf("healthz: %d %s", res.status, res.body)
	}
	if res := e.call(t, http.MethodGet, "/readyz", nil); res.status != 200 {
		t.Errorf("readyz: %d %s", res.status, res.body)
	}
	ready = down
	res = e.call(t, http.MethodGet, "/readyz", nil)
	if res.status != http.StatusServiceUnavailable || string(res.body) != `{"status":"unavailable","failing":["store"]}`+"\n" {
		t.Errorf("readyz while down: %d %s", res.status, res.body)
	}
	if res := e.call(t, http.MethodGet, "/metrics", nil); res.status != http.StatusNotFound || res.code(t) != "not_found" {
		t.Errorf("metrics without a handler: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodGet, "/openapi.yaml", nil)
	if res.status != 200 || !bytes.Equal(res.body, docs.OpenAPI) || !strings.Contains(res.header.Get("Content-Type"), "yaml") {
		t.Errorf("openapi.yaml: %d %q", res.status, res.header.Get("Content-Type"))
	}
}

func TestRoutingErrorsAndSpans(t *testing.T) {
	e := newEnv(t, options{})
	res := e.call(t, http.MethodGet, "/api/v1/internal/nothing", nil)
	if res.status != http.StatusNotFound || res.code(t) != "not_found" {
		t.Errorf("unknown route: %d %s", res.status, res.body)
	}
	res = e.call(t, http.MethodGet, api+"g/start", nil)
	if res.status != http.StatusMethodNotAllowed || res.code(t) != "invalid_request" {
		t.Errorf("GET on start: %d %s", res.status, res.body)
	}
	e.mustStart(t, "g", imageOK)
	if res := e.call(t, http.MethodPost, api+"h/start", map[string]any{"image_ref": imageBroken}); res.status != http.StatusBadGateway {
		t.Fatalf("broken start: %d %s", res.status, res.body)
	}
	e.call(t, http.MethodGet, "/healthz", nil)
	names, fails := e.tel.all()
	start := "REST POST /api/v1/internal/runtimes/{game_id}/start"
	want := []string{"REST GET (unmatched)", "REST GET (unmatched)", start, start, "REST GET /healthz"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("span names (-want +got):\n%s\nall: %q", diff, names)
	}
	if diff := cmp.Diff([]string{start}, fails); diff != "" {
		t.Errorf("failed spans (-want +got):\n%s", diff)
	}
}

// TestSpecCatchesDrift proves the response validation has teeth: a runtime
// that exposes env, or a bad time, does not pass it.
func TestSpecCatchesDrift(t *testing.T) {
	r := req(t, http.MethodGet, api+"g", nil)
	good := `{"game_id":"g","status":"running","container_id":"c","image_ref":"i","endpoint":"127.0.0.1:1","generation":1,` +
		`"created_at":"2026-01-02T03:04:05Z","started_at":null,"stopped_at":null,"removed_at":null,"last_op_at":"2026-01-02T03:04:05Z"`
	h := http.Header{"Content-Type": {"application/json"}}
	if err := checkSpec(t, r, reply{status: 200, header: h, body: []byte(good + "}")}); err != nil {
		t.Fatalf("a good runtime fails validation: %v", err)
	}
	for _, bad := range []string{good + `,"env":{}}`, strings.Replace(good, `"started_at":null`, `"started_at":"yesterday"`, 1) + "}",
		strings.Replace(good, `"running"`, `"zombie"`, 1) + "}"} {
		if err := checkSpec(t, r, reply{status: 200, header: h, body: []byte(bad)}); err == nil {
			t.Errorf("drifted runtime passes validation: %s", bad)
		}
	}
	if err := checkSpec(t, r, reply{status: 418, header: h, body: []byte(`{"error":{"code":"internal","message":"x"}}`)}); err == nil {
		t.Error("an undocumented status passes validation")
	}
}

// TestEveryRouteDocumented walks the router and checks that docs/openapi.yaml
// describes each route, and nothing more.
func TestEveryRouteDocumented(t *testing.T) {
	e := newEnv(t, options{})
	routes, ok := e.handler.(chi.Routes)
	if !ok {
		t.Fatalf("handler %T is not a chi router", e.handler)
	}
	var served []string
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served = append(served, method+" "+strings.ReplaceAll(route, "/*/", "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if diff := cmp.Diff(documented, served); diff != "" {
		t.Errorf("routes (-documented +served):\n%s", diff)
	}
}

func TestStatusPage(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	e := newEnv(t, options{token: "tok"})
	bearer := []string{"Authorization", "Bearer tok"}
	for _, g := range []string{"s1", "s2"} {
		if r := e.call(t, http.MethodPost, "/api/v1/internal/runtimes/"+g+"/start", map[string]any{"image_ref": imageOK}, bearer...); r.status != 200 {
			t.Fatalf("start %s = %d", g, r.status)
		}
	}
	e.call(t, http.MethodPost, "/api/v1/internal/runtimes/s2/stop", map[string]any{"reason": "game_finished"}, bearer...)
	if r := e.call(t, http.MethodGet, "/status", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("status page without token = %d", r.status)
	}
	r := e.call(t, http.MethodGet, "/status", nil, bearer...)
	body := string(r.body)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("status page = %d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{"running: <b>1</b>", "stopped: <b>1</b>", "<code>s1</code>", "<code>s2</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q:\n%s", want, body)
		}
	}
	e.store.FailNext("CountByStatus", nil)
	if r := e.call(t, http.MethodGet, "/status", nil, bearer...); r.status != http.StatusServiceUnavailable {
		t.Errorf("status page with the store down = %d", r.status)
	}
}
