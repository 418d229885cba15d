package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
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

// AwaitLogLine polls the files matching pattern until one contains line,
// failing tb after timeout.
func AwaitLogLine(tb testing.TB, pattern, line string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), line) {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no file matching %s contains %q within %s", pattern, line, timeout)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
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
