package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/app/apptest"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

func do(t *testing.T, method, url, host, contentType, body string) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		r.Host = host
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestServeRefusesPublicAddressWithoutToken: with no API token, serve
// will not listen beyond loopback unless told it is meant.
func TestServeRefusesPublicAddressWithoutToken(t *testing.T) {
	m := newMain(t, map[string]string{"RTMANAGER_HTTP_ADDR": "0.0.0.0:0"})
	err := m.Open(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("Open listened on 0.0.0.0 without a token")
	}
	if msg := err.Error(); !strings.Contains(msg, "RTMANAGER_HTTP_ADDR") || !strings.Contains(msg, "RTMANAGER_INSECURE_NO_AUTH") ||
		strings.Contains(msg, "\n") {
		t.Errorf("error %q must be one line naming the keys", msg)
	}
	if m.Addr() != "" {
		t.Errorf("a listener was opened: %s", m.Addr())
	}
}

// TestCrossSiteAndRebindingOnTheRealApp: the wired service (embedded
// stores, no token) refuses a cross-site form POST and a rebound Host;
// nothing is stored.
func TestCrossSiteAndRebindingOnTheRealApp(t *testing.T) {
	m := newMain(t, map[string]string{"RTMANAGER_DOCKER_HOST": "unix:///nonexistent/docker.sock"})
	apptest.Serve(t, m)
	base := "http://" + m.Addr()
	start := base + "/api/v1/internal/runtimes/g1/start"
	if st, body := do(t, http.MethodPost, start, "", "application/x-www-form-urlencoded", "image_ref=engine:1"); st != http.StatusUnsupportedMediaType ||
		!strings.Contains(body, `"invalid_request"`) {
		t.Errorf("form POST: %d %s, want 415 invalid_request", st, body)
	}
	if st, body := do(t, http.MethodPost, start, "", "text/plain", `{"image_ref":"engine:1"}`); st != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain POST: %d %s, want 415", st, body)
	}
	if st, body := do(t, http.MethodPost, start, "evil.example:8080", "application/json", `{"image_ref":"engine:1"}`); st != http.StatusForbidden ||
		!strings.Contains(body, `"forbidden"`) {
		t.Errorf("rebound Host: %d %s, want 403 forbidden", st, body)
	}
	if st, body := do(t, http.MethodGet, base+"/status", "evil.example", "", ""); st != http.StatusForbidden {
		t.Errorf("status page by a rebound Host: %d %s", st, body)
	}
	if recs, _, err := m.Store().List(context.Background(), ports.ListQuery{Limit: 10}); err != nil || len(recs) != 0 {
		t.Errorf("records after refused requests: %+v, %v", recs, err)
	}
	if st, body := do(t, http.MethodGet, base+"/status", "", "", ""); st != http.StatusOK || !strings.Contains(body, "rtmanager") {
		t.Errorf("status page from loopback: %d", st)
	}
}

// TestSecretsStayOutOfLogsAndReadyz: with Postgres unreachable (its URL
// carries a password) and the runtime down, rtmanager serves; /readyz
// names the failing dependencies without their error text, operations
// answer service_unavailable, and the password appears in no log line.
func TestSecretsStayOutOfLogsAndReadyz(t *testing.T) {
	const pw = "pg-s3cret-hunter2"
	var logs testenv.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := app.New(load(t, map[string]string{
		"RTMANAGER_DATABASE_URL": "postgres://rtm:" + pw + "@127.0.0.1:1/rtm?connect_timeout=1&password=" + pw,
		"RTMANAGER_AUTO_MIGRATE": "false",
		"RTMANAGER_DOCKER_HOST":  "unix:///nonexistent/docker.sock",
	}), logger, "test")
	apptest.Serve(t, m)
	base := "http://" + m.Addr()
	st, body := do(t, http.MethodGet, base+"/readyz", "", "", "")
	if st != http.StatusServiceUnavailable || body != `{"status":"unavailable","failing":["database","driver"]}`+"\n" {
		t.Errorf("readyz: %d %s", st, body)
	}
	st, body = do(t, http.MethodPost, base+"/api/v1/internal/runtimes/g1/start", "", "application/json", `{"image_ref":"engine:1"}`)
	if st != http.StatusServiceUnavailable || strings.Contains(body, pw) {
		t.Errorf("start with the database down: %d %s", st, body)
	}
	st, body = do(t, http.MethodGet, base+"/api/v1/internal/runtimes/g1", "", "", "")
	if st != http.StatusServiceUnavailable || strings.Contains(body, pw) {
		t.Errorf("read with the database down: %d %s", st, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"dependency":"database"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no readiness warning for the database in the log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := logs.String(); strings.Contains(out, pw) {
		t.Errorf("the database password is in the log:\n%s", out)
	}
	if err := m.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "database: ") || strings.Contains(err.Error(), pw) {
		t.Errorf("Ready = %v", err)
	}
}
