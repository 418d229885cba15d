package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/containerd"
	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/app/apptest"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// noKeepAlive keeps goroutine counts comparable: no idle connection (and
// its server goroutine) outlives a request.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// served is one in-process rtmanager serving on a real driver.
type served struct {
	t    *testing.T
	m    *app.Main
	base string
}

// serveMain opens and runs Main with env until the test ends.
func serveMain(t *testing.T, env map[string]string) *served {
	t.Helper()
	m := newMain(t, env)
	apptest.Serve(t, m)
	return &served{t: t, m: m, base: "http://" + m.Addr() + "/api/v1/internal/runtimes/"}
}

// get GETs path under the runtimes base and returns status and body.
func (s *served) get(path string) (int, string) {
	s.t.Helper()
	resp, err := noKeepAlive.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// say makes the game's engine write line to stream.
func (s *served) say(game, stream, line string) {
	s.t.Helper()
	rec, err := s.m.Store().Get(context.Background(), game)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := noKeepAlive.Get("http://" + rec.Endpoint + "/say?to=" + stream + "&line=" + url.QueryEscape(line))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		s.t.Fatalf("engine /say: %v %v", resp, err)
	}
	resp.Body.Close()
}

// follower is one streaming GET …/logs?follow=true.
type follower struct {
	cancel context.CancelFunc
	lines  chan string
	done   chan struct{}
}

// follow opens a follow stream and waits for its 200.
func (s *served) follow(game, query string) *follower {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+game+"/logs?follow=true&"+query, nil)
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		cancel()
		s.t.Fatalf("follow: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		cancel()
		s.t.Fatalf("follow = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	f := &follower{cancel: cancel, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	return f
}

// await waits for a line containing want.
func (f *follower) await(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case l := <-f.lines:
			if strings.Contains(l, want) {
				return
			}
			seen = append(seen, l)
		case <-f.done:
			for len(f.lines) > 0 {
				if l := <-f.lines; strings.Contains(l, want) {
					return
				}
			}
			t.Fatalf("the stream ended before %q; it held %q", want, seen)
		case <-timeout:
			t.Fatalf("no line with %q within 20s", want)
		}
	}
}

// awaitSoft is await that only notes a missing line.
func (f *follower) awaitSoft(t *testing.T, want string) {
	t.Helper()
	for {
		select {
		case l := <-f.lines:
			if strings.Contains(l, want) {
				return
			}
		case <-f.done:
			for len(f.lines) > 0 {
				if l := <-f.lines; strings.Contains(l, want) {
					return
				}
			}
			t.Logf("note: the stream ended without %q", want)
			return
		case <-time.After(20 * time.Second):
			t.Fatalf("no line with %q and no end of the stream within 20s", want)
		}
	}
}

// goroutines is a snapshot of the process's goroutines but those of idle
// HTTP client connections: their count and their stacks by id.
type goroutines struct {
	n      int
	idle   int // goroutines of idle client connections, left out of n
	stacks map[string]string
}

// idleClientConn tells whether a goroutine serves an HTTP client connection
// that waits for its next request: its writer, or its reader waiting for a
// first byte. Those belong to a transport's pool, which its own limits bound
// (the Docker client keeps up to 2 per host for 30 s), and how many the pool
// holds at a given moment depends on which calls overlapped before: the
// follow streams below make the Docker client's pool grow from 1 to 2 when
// the stop call overlaps a stream. A reader handing a response body to a
// caller waits for the body to be read instead, so a stream left open still
// counts.
func idleClientConn(stack string) bool {
	return strings.Contains(stack, "net/http.(*persistConn).writeLoop(") ||
		strings.Contains(stack, "net/http.(*persistConn).readLoop(") && strings.Contains(stack, "bufio.(*Reader).Peek(")
}

// snapshotGoroutines returns the goroutines running now.
func snapshotGoroutines() goroutines {
	g := goroutines{stacks: map[string]string{}}
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, st := range strings.Split(string(buf), "\n\n") {
		if idleClientConn(st) {
			g.idle++
			continue
		}
		head, _, _ := strings.Cut(st, " [")
		g.stacks[head] = st
	}
	g.n = len(g.stacks)
	return g
}

// waitGoroutines polls until the process runs at most as many goroutines
// (idle client connections aside) as it did at base; on timeout it prints
// the ones base did not hold.
func waitGoroutines(t *testing.T, base goroutines, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		now := snapshotGoroutines()
		if now.n <= base.n {
			t.Logf("%s: %d goroutines (baseline %d), %d of idle client connections (baseline %d)",
				what, now.n, base.n, now.idle, base.idle)
			return
		}
		if time.Now().After(deadline) {
			var extra []string
			for id, st := range now.stacks {
				if _, ok := base.stacks[id]; !ok {
					extra = append(extra, st)
				}
			}
			t.Fatalf("%s: %d goroutines, baseline %d; new since the baseline:\n%s", what, now.n, base.n,
				strings.Join(extra, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// observeThroughServer runs the logs and stats scenario through the real
// REST server on the driver env selects.
func observeThroughServer(t *testing.T, env map[string]string, image string, logTimes bool) {
	s := serveMain(t, env)
	game := "obs-" + testenv.RandomSuffix(4)
	removeGames(t, game)
	if st, res := post(t, s.base+game+"/start", map[string]any{"image_ref": image}); st != 200 {
		t.Fatalf("start = %d %v", st, res)
	}
	t.Cleanup(func() {
		post(t, s.base+game+"/stop", map[string]any{"reason": "admin_request"})
		req, _ := http.NewRequest(http.MethodDelete, s.base+game, nil)
		if resp, err := noKeepAlive.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	// Plain read: both streams, in order. Docker copies the two pipes
	// concurrently, so each line is written once the one before is seen.
	for _, say := range []struct{ stream, line, want string }{
		{"stdout", "hello out", "hello out\n"},
		{"stderr", "hello err", "hello out\nhello err\n"},
	} {
		s.say(game, say.stream, say.line)
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := s.get(game + "/logs?tail=all")
			if code == 200 && strings.Contains(body, say.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("logs = %d %q; want %q", code, body, say.want)
			}
			time.Sleep(100 * time.Millisecond) // poll interval
		}
	}
	if code, body := s.get(game + "/logs?tail=1"); code != 200 || body != "hello err\n" {
		t.Errorf("logs?tail=1 = %d %q", code, body)
	}
	if code, body := s.get(game + "/logs?tail=-1"); code != 400 || !strings.Contains(body, "invalid_request") {
		t.Errorf("logs?tail=-1 = %d %q, want 400", code, body)
	}
	if logTimes {
		code, body := s.get(game + "/logs?tail=1&timestamps=true&since=2020-01-01T00:00:00Z")
		if ts, rest, _ := strings.Cut(body, " "); code != 200 || rest != "hello err\n" || !strings.HasPrefix(ts, "20") {
			t.Errorf("logs?timestamps=true = %d %q, want the last line after its time", code, body)
		}
	} else {
		// Refused before the stream is committed, follow or not.
		code, body := s.get(game + "/logs?tail=1&follow=true&timestamps=true")
		if code != http.StatusNotImplemented || !strings.Contains(body, "unsupported") {
			t.Errorf("follow with timestamps on a driver without times = %d %q, want 501 unsupported", code, body)
		}
	}
	code, body := s.get(game + "/stats")
	var st map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st["memory_bytes"] == nil || st["game_id"] != game {
		t.Errorf("stats = %d %s; want a sample with memory_bytes", code, body)
	}
	t.Logf("stats: %s", body)

	// A follower whose client goes away leaves no goroutine behind.
	s.get(game + "/logs?tail=1") // warm every lazy pool first
	baseline := snapshotGoroutines()
	f := s.follow(game, "tail=1")
	f.await(t, "hello err") // the follower is in place
	s.say(game, "stdout", "followed line")
	f.await(t, "followed line")
	f.cancel()
	<-f.done
	waitGoroutines(t, baseline, "after the follow client left")

	// A follower of a game that stops sees the engine's last words and
	// its stream ends.
	f = s.follow(game, "tail=1")
	if st, res := post(t, s.base+game+"/stop", map[string]any{"reason": "admin_request"}); st != 200 {
		t.Fatalf("stop = %d %v", st, res)
	}
	if logTimes {
		f.await(t, "shutting down")
	} else {
		// The shim may lose the engine's very last line when the task
		// exits (seen rarely on containerd 1.6); the stream must end
		// with everything before it.
		f.awaitSoft(t, "shutting down")
	}
	select {
	case <-f.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the follow stream did not end when the game stopped")
	}
	f.cancel()
	waitGoroutines(t, baseline, "after the followed game stopped")
	if code, body := s.get(game + "/stats"); code != 404 {
		t.Errorf("stats of a stopped game = %d %s, want 404", code, body)
	}
}

func TestObserveDocker(t *testing.T) {
	host := testenv.DockerHost(t)
	observeThroughServer(t, map[string]string{"RTMANAGER_DOCKER_HOST": host}, testenv.EngineImage(t), true)
}

func TestObserveContainerd(t *testing.T) {
	addr := testenv.ContainerdAddress(t)
	tarball := testenv.EngineTarball(t)
	ns := "rtm-obs-" + testenv.RandomSuffix(4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := containerd.New(ctx, containerd.Config{Address: addr, Namespace: ns, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("containerd driver: %v", err)
	}
	t.Cleanup(func() {
		d.Close()
		if err := testenv.DropContainerdNamespace(addr, ns); err != nil {
			t.Errorf("drop namespace %s: %v", ns, err)
		}
	})
	names, err := d.ImportImage(ctx, tarball)
	if err != nil || len(names) == 0 {
		t.Fatalf("import the engine image: %v", err)
	}
	observeThroughServer(t, map[string]string{"RTMANAGER_DRIVER": "containerd", "RTMANAGER_CONTAINERD_ADDRESS": addr,
		"RTMANAGER_CONTAINERD_NAMESPACE": ns}, names[0], false)
}

// TestObservePlugin runs the scenario on the shipped process plugin
// (driver protocol version 2), built here.
func TestObservePlugin(t *testing.T) {
	engine := testenv.EngineBinary(t)
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	plugin := filepath.Join(t.TempDir(), "rtmanager-plugin-process")
	build := exec.Command("go", "build", "-o", plugin, "./plugins/process/cmd/rtmanager-plugin-process")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the process plugin: %v\n%s", err, out)
	}
	observeThroughServer(t, map[string]string{"RTMANAGER_DRIVER": "plugin", "RTMANAGER_PLUGIN_PATH": plugin},
		"file://"+engine, false)
}

// TestShutdownEndsFollowers: a graceful shutdown ends follow streams at
// once instead of waiting ShutdownTimeout (20 s here) for them.
func TestShutdownEndsFollowers(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	m := newMain(t, map[string]string{"RTMANAGER_DOCKER_HOST": host})
	run := apptest.Serve(t, m)
	s := &served{t: t, m: m, base: "http://" + m.Addr() + "/api/v1/internal/runtimes/"}
	game := "obs-sd-" + testenv.RandomSuffix(3)
	removeGames(t, game)
	if st, res := post(t, s.base+game+"/start", map[string]any{"image_ref": image}); st != 200 {
		t.Fatalf("start = %d %v", st, res)
	}
	f := s.follow(game, "tail=1")
	f.await(t, "listening on")
	began := time.Now()
	if err := run.Stop(t, 15*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-f.done
	t.Logf("shutdown with a follower took %s", time.Since(began))
}
