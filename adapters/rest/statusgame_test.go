package rest_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestStatusPagesBrowserAuth: with a token, the status pages take it as
// the HTTP Basic password (what a browser can send) or as a bearer token;
// anything else is a 401 with a Basic challenge, so browsers prompt.
func TestStatusPagesBrowserAuth(t *testing.T) {
	e := newEnv(t, options{token: "s3cret"})
	e.call(t, http.MethodPost, "/api/v1/internal/runtimes/g1/start", map[string]any{"image_ref": imageOK}, "Authorization", "Bearer s3cret")
	for _, path := range []string{"/status", "/status/games/g1"} {
		for name, hdr := range map[string][]string{"none": nil, "wrong basic": {"Authorization", basic("op", "nope")},
			"token as user": {"Authorization", basic("s3cret", "")}, "wrong bearer": {"Authorization", "Bearer nope"}} {
			res := e.call(t, http.MethodGet, path, nil, hdr...)
			if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s with %s = %d %q, want 401 with a Basic challenge", path, name, res.status, res.header.Get("WWW-Authenticate"))
			}
		}
		for name, hdr := range map[string][]string{"basic": {"Authorization", basic("anyone", "s3cret")}, "bearer": {"Authorization", "Bearer s3cret"}} {
			res := e.call(t, http.MethodGet, path, nil, hdr...)
			if res.status != http.StatusOK || !strings.Contains(string(res.body), "g1") {
				t.Errorf("%s with %s = %d, want 200 naming g1", path, name, res.status)
			}
			if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s: Content-Security-Policy %q, want default-src 'none'", path, csp)
			}
		}
	}
	// The API itself stays bearer-only: Basic is for the pages.
	if res := e.call(t, http.MethodGet, "/api/v1/internal/runtimes/g1", nil, "Authorization", basic("op", "s3cret")); res.status != http.StatusUnauthorized {
		t.Errorf("API with Basic = %d, want 401", res.status)
	}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pw)
	return r.Header.Get("Authorization")
}

// TestGamePage: the list links each game to its page; the page shows the
// record, the operations, the health note and, on a driver without stats
// or logs, says so in place.
func TestGamePage(t *testing.T) {
	e := newEnv(t, options{})
	e.mustStart(t, "g0", imageOK) // never stopped: no stopped_at
	if page := string(e.call(t, http.MethodGet, "/status/games/g0", nil).body); !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("the page of a game never stopped is cut short:\n%s", page)
	}
	e.mustStart(t, "g1", imageOK)
	e.mustStop(t, "g1")
	e.mustStart(t, "g1", imageOK)
	list := e.call(t, http.MethodGet, "/status", nil)
	if !strings.Contains(string(list.body), `href="/status/games/g1"`) || !strings.Contains(string(list.body), "running: <b>2</b>") {
		t.Errorf("/status does not link g1 or count it:\n%s", list.body)
	}
	res := e.call(t, http.MethodGet, "/status/games/g1", nil)
	page := string(res.body)
	for _, want := range []string{`id="status">running`, imageOK, "<td>start</td>", "<td>stop</td>", "does not offer",
		`id="health"`} {
		if !strings.Contains(page, want) {
			t.Errorf("game page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the game page carries a script")
	}
	if res := e.call(t, http.MethodGet, "/status/games/nope", nil); res.status != http.StatusNotFound {
		t.Errorf("page of an unknown game = %d, want 404", res.status)
	}
}
