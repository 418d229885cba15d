// Package harness runs the rtmanager binary as a black box for end-to-end,
// fault and scale-out tests: it builds app/cmd/rtmanager once per test
// process, starts instances on free loopback ports with a configuration of
// the test's choosing, waits until they are ready, talks to their REST API,
// and kills them and their games' containers when the test ends.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// build is one rtmanager build made at most once per test process: a
// bash script, run in the repository root, that writes the binary to $0.
type build struct {
	once sync.Once
	path string
	err  error
}

func (b *build) get(tb testing.TB, name, script string) string {
	tb.Helper()
	b.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "rtm-e2e-"+name+"-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "rtmanager")
		cmd := exec.Command("bash", "-c", script, b.path)
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%s build: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		tb.Fatalf("build rtmanager: %v", b.err)
	}
	return b.path
}

var devBuild, releaseBuild build

// Binary builds the rtmanager binary once per test process and returns its
// path.
func Binary(tb testing.TB) string {
	tb.Helper()
	return devBuild.get(tb, "bin", `go build -o "$0" ./app/cmd/rtmanager`)
}

// ReleaseBinary builds rtmanager once per test process the way a release
// does (scripts/lib/build.sh's rtm_build: static, CGO off, trimmed,
// stamped) and returns its path. Benchmarks of what a deployer runs (the
// idle RSS of P4) use it; tests use Binary.
func ReleaseBinary(tb testing.TB) string {
	tb.Helper()
	return releaseBuild.get(tb, "release",
		`. scripts/lib/build.sh && rtm_build "$(go env GOOS)" "$(go env GOARCH)" ./app/cmd/rtmanager "$0"`)
}

// FreeAddr returns a free 127.0.0.1:port.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Options configure one instance. Env holds RTMANAGER_* variables; the
// harness fills RTMANAGER_HTTP_ADDR, RTMANAGER_DATA_DIR,
// RTMANAGER_EMBEDDED_REDIS_ADDR and RTMANAGER_INSTANCE_ID unless set.
type Options struct {
	Env map[string]string
	// Binary is the rtmanager executable to run; empty means the one
	// built from this tree (Binary). A benchmark sets it to compare with
	// another build in the same run.
	Binary string
	// ReadyTimeout bounds the wait for /readyz (default 60s).
	ReadyTimeout time.Duration
}

// Instance is one running rtmanager process.
type Instance struct {
	tb   testing.TB
	Addr string
	// Token, when set, is sent as the bearer token of every request.
	Token  string
	Env    map[string]string
	binary string
	cmd    *exec.Cmd
	logs   *testenv.Buffer
	exited chan struct{}
	err    error
}

// Start starts an instance and waits until /readyz answers 200. The
// instance is stopped when tb ends; its log is printed if tb failed.
func Start(tb testing.TB, opts Options) *Instance {
	tb.Helper()
	env := map[string]string{}
	for k, v := range opts.Env {
		env[k] = v
	}
	setDefault(env, "RTMANAGER_HTTP_ADDR", FreeAddr(tb))
	setDefault(env, "RTMANAGER_DATA_DIR", tb.TempDir())
	setDefault(env, "RTMANAGER_EMBEDDED_REDIS_ADDR", FreeAddr(tb))
	setDefault(env, "RTMANAGER_INSTANCE_ID", "e2e-"+testenv.RandomSuffix(4))
	setDefault(env, "RTMANAGER_DOCKER_HOST", os.Getenv(testenv.EnvDocker))
	if env["RTMANAGER_DOCKER_HOST"] == "" {
		delete(env, "RTMANAGER_DOCKER_HOST")
	}
	i := &Instance{tb: tb, Addr: env["RTMANAGER_HTTP_ADDR"], Env: env, binary: opts.Binary}
	i.launch(opts.ReadyTimeout)
	tb.Cleanup(func() {
		i.Stop()
		if tb.Failed() {
			tb.Logf("rtmanager %s log:\n%s", i.Addr, i.logs.String())
		}
	})
	return i
}

// Attach returns an Instance for an rtmanager the harness did not start
// (one in a container or a cluster) serving at addr (host:port) and
// requiring token (empty: none). Only the REST methods apply to it: Stop,
// Kill and Restart do nothing, Logs is empty.
func Attach(tb testing.TB, addr, token string) *Instance {
	return &Instance{tb: tb, Addr: addr, Token: token, logs: &testenv.Buffer{}}
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func (i *Instance) launch(readyTimeout time.Duration) {
	i.tb.Helper()
	if readyTimeout == 0 {
		readyTimeout = 60 * time.Second
	}
	bin := i.binary
	if bin == "" {
		bin = Binary(i.tb)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = os.Environ()
	for k, v := range i.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if i.logs == nil {
		i.logs = &testenv.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = i.logs, i.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		i.tb.Fatalf("start rtmanager: %v", err)
	}
	i.cmd, i.exited = cmd, make(chan struct{})
	go func() { i.err = cmd.Wait(); close(i.exited) }()
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-i.exited:
			i.tb.Fatalf("rtmanager exited before ready: %v\n%s", i.err, i.logs.String())
		default:
		}
		if st, _ := i.Get("/readyz"); st == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			i.tb.Fatalf("rtmanager not ready within %s\n%s", readyTimeout, i.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts the instance again with the same configuration after it
// was stopped or killed.
func (i *Instance) Restart() {
	i.tb.Helper()
	if i.cmd == nil && i.Env == nil {
		return // attached
	}
	i.launch(0)
}

// Kill sends SIGKILL and waits for the process to end.
func (i *Instance) Kill() {
	if i.cmd == nil {
		return
	}
	_ = i.cmd.Process.Kill()
	<-i.exited
}

// Stop sends SIGTERM and waits up to 60s for a graceful exit, then kills.
// It returns the process's exit error.
func (i *Instance) Stop() error {
	if i.cmd == nil {
		return nil
	}
	select {
	case <-i.exited:
		return i.err
	default:
	}
	_ = i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.exited:
	case <-time.After(60 * time.Second):
		_ = i.cmd.Process.Kill()
		<-i.exited
	}
	return i.err
}

// Pid returns the process id.
func (i *Instance) Pid() int { return i.cmd.Process.Pid }

// Logs returns what the instance logged so far.
func (i *Instance) Logs() string { return i.logs.String() }

// EmbeddedRedisURL returns the URL (password included) of the instance's
// embedded Redis, from the file it writes in its data dir.
func (i *Instance) EmbeddedRedisURL() string {
	i.tb.Helper()
	b, err := os.ReadFile(filepath.Join(i.Env["RTMANAGER_DATA_DIR"], "embedded-redis.url"))
	if err != nil {
		i.tb.Fatalf("embedded redis url: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// URL returns the instance's base URL plus path.
func (i *Instance) URL(path string) string { return "http://" + i.Addr + path }

var client = &http.Client{Timeout: 120 * time.Second}

// Do sends a request with a JSON body (nil: none) and decodes the JSON
// answer into a map (nil when the body is not a JSON object).
func (i *Instance) Do(method, path string, body any, headers ...string) (int, map[string]any) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			i.tb.Fatalf("marshal: %v", err)
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, i.URL(path), r)
	if err != nil {
		i.tb.Fatalf("request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if i.Token != "" {
		req.Header.Set("Authorization", "Bearer "+i.Token)
	}
	for k := 0; k+1 < len(headers); k += 2 {
		req.Header.Set(headers[k], headers[k+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// Get is Do with GET and no body.
func (i *Instance) Get(path string) (int, map[string]any) { return i.Do(http.MethodGet, path, nil) }

// Op posts a lifecycle operation: op is start, stop, restart, patch or
// cleanup (DELETE). It returns the HTTP status and the decoded answer.
func (i *Instance) Op(game, op string, body any, headers ...string) (int, map[string]any) {
	base := "/api/v1/internal/runtimes/" + game
	if op == "cleanup" {
		return i.Do(http.MethodDelete, base, nil, headers...)
	}
	if body == nil {
		body = map[string]any{}
	}
	return i.Do(http.MethodPost, base+"/"+op, body, headers...)
}

// Runtime returns the runtime of game as the REST API shows it, or nil.
func (i *Instance) Runtime(game string) map[string]any {
	st, m := i.Get("/api/v1/internal/runtimes/" + game)
	if st != http.StatusOK {
		return nil
	}
	return m
}

// Eventually polls cond every 50ms until it returns true or timeout passes.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// GameID returns a unique game id with the given prefix.
func GameID(prefix string) string {
	return strings.ToLower(prefix) + "-" + testenv.RandomSuffix(4)
}

// RemoveDockerContainers force-removes the Docker containers of the games
// (by label) when tb ends.
func RemoveDockerContainers(tb testing.TB, games ...string) {
	tb.Cleanup(func() {
		for _, g := range games {
			out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=rtmanager.game_id="+g).Output()
			if err != nil {
				continue
			}
			for _, id := range strings.Fields(string(out)) {
				_ = exec.Command("docker", "rm", "-f", id).Run()
			}
		}
	})
}
