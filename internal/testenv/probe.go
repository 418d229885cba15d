package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var engineClient = &http.Client{Timeout: 10 * time.Second}

// EngineCall sends method path to the test engine (e2e/engine) at endpoint
// and returns the status and body; a transport error fails tb.
func EngineCall(tb testing.TB, method, endpoint, path string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, "http://"+endpoint+path, nil)
	if err != nil {
		tb.Fatalf("%s %s%s: %v", method, endpoint, path, err)
	}
	resp, err := engineClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s%s: %v", method, endpoint, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// EngineJSON GETs path from the test engine and decodes its JSON answer
// into v, failing tb unless it answers 200.
func EngineJSON(tb testing.TB, endpoint, path string, v any) {
	tb.Helper()
	code, body := EngineCall(tb, http.MethodGet, endpoint, path)
	if code != http.StatusOK {
		tb.Fatalf("GET %s%s = %d %s", endpoint, path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		tb.Fatalf("GET %s%s: decode %q: %v", endpoint, path, body, err)
	}
}

// DiskUsage returns the bytes allocated on disk to the files matching
// pattern, and the files.
func DiskUsage(tb testing.TB, pattern string) (int64, []string) {
	tb.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	var total int64
	for _, p := range paths {
		total += allocated(tb, p)
	}
	return total, paths
}

// AwaitSpamDone polls the test engine's GET /spam until its
// ENGINE_SPAM_BYTES output is written, and returns the bytes written.
func AwaitSpamDone(tb testing.TB, endpoint string, timeout time.Duration) int64 {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st struct {
			Written int64
			Done    bool
		}
		EngineJSON(tb, endpoint, "/spam", &st)
		if st.Done {
			return st.Written
		}
		if time.Now().After(deadline) {
			tb.Fatalf("engine at %s wrote %d bytes of spam, not done within %s", endpoint, st.Written, timeout)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// AwaitDiskUsage polls DiskUsage(pattern) until it is at most limit bytes
// and returns it, or returns the last figure after timeout.
func AwaitDiskUsage(tb testing.TB, pattern string, limit int64, timeout time.Duration) (int64, []string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		used, files := DiskUsage(tb, pattern)
		if used <= limit || time.Now().After(deadline) {
			return used, files
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// CheckEngineUserReadOnly asks the test engine at endpoint for its uid/gid
// and to write outside and inside /tmp: it must run as uid:gid on a
// read-only root filesystem with a writable /tmp.
func CheckEngineUserReadOnly(tb testing.TB, endpoint string, uid, gid int) {
	tb.Helper()
	var id struct{ UID, GID int }
	EngineJSON(tb, endpoint, "/id", &id)
	if id.UID != uid || id.GID != gid {
		tb.Errorf("engine runs as %d:%d, want %d:%d", id.UID, id.GID, uid, gid)
	}
	if code, body := EngineCall(tb, http.MethodPost, endpoint, "/write?path=/rootfs-file"); code == http.StatusOK {
		tb.Errorf("write to / succeeded on a read-only root: %d %s", code, body)
	}
	if code, body := EngineCall(tb, http.MethodPost, endpoint, "/write?path=/tmp/ok"); code != http.StatusOK {
		tb.Errorf("write to /tmp: %d %s, want 200", code, body)
	}
}
