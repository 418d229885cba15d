package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestAdmissionRules: the image, env and capacity rules of SPEC §10/§11
// reach REST callers with their codes and statuses.
func TestAdmissionRules(t *testing.T) {
	const api = "/api/v1/internal/runtimes/"
	allow := core.MustParseImageAllow("games/*:*, file:///opt/games/*, registry.local:5000/games/**")
	sha := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		image  string
		env    map[string]string
		status int
		code   string
	}{
		{"star does not cross a slash", "games/deep/chess:1", nil, 403, "forbidden"},
		{"star does not stretch a segment", "gamesx/chess:1", nil, 403, "forbidden"},
		{"docker.io normalisation", "docker.io/games/absent:1", nil, 422, "image_unavailable"},
		{"index.docker.io normalisation", "index.docker.io/games/absent:1", nil, 422, "image_unavailable"},
		{"file path escape", "file:///opt/games/../../bin/bash", nil, 400, "invalid_request"},
		{"file percent escape", "file:///opt/games/%2e%2e/bash", nil, 400, "invalid_request"},
		{"file empty segment", "file:///opt/games//bash", nil, 400, "invalid_request"},
		{"file deeper than the pattern", "file:///opt/games/sub/bash", nil, 403, "forbidden"},
		{"unknown scheme", "http://registry.local/games/chess", nil, 400, "invalid_request"},
		{"registry port must match", "registry.local:5001/games/chess", nil, 403, "forbidden"},
		{"registry host prefix", "registry.local:5000x/games/chess", nil, 400, "invalid_request"},
		{"digest with port", "registry.local:5000/games/a/b@" + sha, nil, 422, "image_unavailable"},
		{"unicode", "gämes/chess:1", nil, 400, "invalid_request"},
		{"over-long", "games/" + strings.Repeat("a", 600), nil, 400, "invalid_request"},
		{"LD_PRELOAD", imageOK, map[string]string{"LD_PRELOAD": "/tmp/x.so"}, 400, "invalid_request"},
		{"BASH_ENV", imageOK, map[string]string{"BASH_ENV": "/tmp/x"}, 400, "invalid_request"},
		{"PYTHONPATH", imageOK, map[string]string{"PYTHONPATH": "/tmp"}, 400, "invalid_request"},
		{"RTMANAGER_ reserved", imageOK, map[string]string{"RTMANAGER_API_TOKEN": "x"}, 400, "invalid_request"},
		{"lower-case name", imageOK, map[string]string{"mode": "x"}, 400, "invalid_request"},
		{"allowed", imageOK, map[string]string{"MODE": "ranked"}, 200, ""},
	}
	// The driver runs file:// images, as the process plugin does.
	e := newEnv(t, options{allow: allow, deps: func(d *lifecycle.Deps) { d.Config.ImageSchemes = []string{core.FileScheme} }})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			game := fmt.Sprintf("g%d", i)
			res := e.call(t, http.MethodPost, api+game+"/start", map[string]any{"image_ref": tt.image, "env": tt.env})
			if res.status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.code != "" && res.code(t) != tt.code {
				t.Errorf("code %q, want %q", res.code(t), tt.code)
			}
			if tt.status != 200 && len(e.driver.Containers()) > 1 {
				t.Errorf("a refused start left a container: %+v", e.driver.Containers())
			}
		})
	}
}

// TestFileImagesNeedTheirDriver: with a driver that does not own file://
// (Docker, containerd), a file reference is invalid_request even when the
// allow-list admits it.
func TestFileImagesNeedTheirDriver(t *testing.T) {
	e := newEnv(t, options{allow: core.MustParseImageAllow("file:///opt/games/*")})
	res := e.call(t, http.MethodPost, "/api/v1/internal/runtimes/g/start", map[string]any{"image_ref": "file:///opt/games/chess"})
	if res.status != 400 || res.code(t) != "invalid_request" {
		t.Fatalf("start = %d %s, want 400 invalid_request", res.status, res.body)
	}
}

// TestMaxRuntimesREST: a start beyond RTMANAGER_MAX_RUNTIMES is 429
// capacity_exceeded with Retry-After, and leaves no record.
func TestMaxRuntimesREST(t *testing.T) {
	const api = "/api/v1/internal/runtimes/"
	e := newEnv(t, options{deps: func(d *lifecycle.Deps) { d.Config.MaxRuntimes = 1 }})
	if res := e.call(t, http.MethodPost, api+"a/start", map[string]any{"image_ref": imageOK}); res.status != 200 {
		t.Fatalf("first start: %d %s", res.status, res.body)
	}
	res := e.call(t, http.MethodPost, api+"b/start", map[string]any{"image_ref": imageOK})
	if res.status != http.StatusTooManyRequests || res.code(t) != "capacity_exceeded" || res.header.Get("Retry-After") == "" {
		t.Fatalf("second start: %d %v %s", res.status, res.header, res.body)
	}
	if res := e.call(t, http.MethodGet, api+"b", nil); res.status != 404 {
		t.Errorf("refused start left a record: %d %s", res.status, res.body)
	}
}

// slowProber makes every engine take a while to become ready, so starts
// overlap.
type slowProber struct {
	ports.Prober
	delay time.Duration
}

func (p slowProber) Probe(ctx context.Context, endpoint string) error {
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return p.Prober.Probe(ctx, endpoint)
}

// TestMaxInflightREST fires 200 concurrent starts of distinct games over a
// real HTTP server at an instance with RTMANAGER_MAX_INFLIGHT=8 and engines
// that take 20 ms to become ready. Every start answers 200 or 429; at most
// 8 run at once; a 429 leaves neither record nor container, a 200 leaves
// one running engine.
func TestMaxInflightREST(t *testing.T) {
	const (
		api      = "/api/v1/internal/runtimes/"
		n        = 200
		inflight = 8
	)
	e := newEnv(t, options{deps: func(d *lifecycle.Deps) {
		d.Config.MaxInflight = inflight
		d.Prober = slowProber{Prober: d.Prober, delay: 20 * time.Millisecond}
	}})
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		status = map[string]int{}
	)
	began := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			game := fmt.Sprintf("load-%03d", i)
			r, err := http.NewRequest(http.MethodPost, srv.URL+api+game+"/start",
				bytes.NewReader([]byte(`{"image_ref":"`+imageOK+`"}`)))
			if err != nil {
				t.Error(err)
				return
			}
			r.Header.Set("Content-Type", "application/json")
			res, err := client.Do(r)
			if err != nil {
				t.Errorf("%s: %v", game, err)
				return
			}
			res.Body.Close()
			mu.Lock()
			status[game] = res.StatusCode
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	counts := map[int]int{}
	for game, st := range status {
		counts[st]++
		rec, err := e.store.Get(context.Background(), game)
		var live []ports.Container
		for _, c := range e.driver.Containers() {
			if c.Labels[ports.LabelGameID] == game {
				live = append(live, c)
			}
		}
		switch st {
		case http.StatusOK:
			if err != nil || rec.Status != core.StatusRunning || len(live) != 1 {
				t.Errorf("%s answered 200 but record %+v (%v), containers %d", game, rec, err, len(live))
			}
		case http.StatusTooManyRequests:
			if err == nil || len(live) != 0 {
				t.Errorf("%s answered 429 but left record %+v, containers %d", game, rec, len(live))
			}
		default:
			t.Errorf("%s answered %d", game, st)
		}
	}
	if counts[http.StatusOK]+counts[http.StatusTooManyRequests] != n || counts[http.StatusTooManyRequests] == 0 || counts[http.StatusOK] < inflight {
		t.Errorf("answers %v for %d starts at max in-flight %d", counts, n, inflight)
	}
	t.Logf("%d concurrent starts, MAX_INFLIGHT=%d, 20 ms readiness: %d × 200, %d × 429 in %s",
		n, inflight, counts[http.StatusOK], counts[http.StatusTooManyRequests], elapsed.Round(time.Millisecond))
}
