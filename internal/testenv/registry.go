package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Registry is a private image registry for tests: Debian's docker-registry
// (the reference distribution registry) on 127.0.0.1 with htpasswd auth and
// filesystem storage under a temp dir. Docker and containerd talk plain
// HTTP to registries on 127.0.0.0/8, so no TLS is needed.
type Registry struct {
	// Addr is host:port, the registry host of references pushed here.
	Addr     string
	User     string
	Password string

	dir    string
	config string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartRegistry starts a registry for tb and stops it when tb ends. A
// missing docker-registry or htpasswd binary skips tb locally and fails it
// in CI (scripts/services.sh installs both).
func StartRegistry(tb testing.TB) *Registry {
	tb.Helper()
	for _, bin := range []string{"docker-registry", "htpasswd"} {
		if _, err := exec.LookPath(bin); err != nil {
			Missing(tb, "%s is not installed (apt-get install docker-registry apache2-utils)", bin)
		}
	}
	dir := tb.TempDir()
	r := &Registry{User: "rtm", Password: "pw-" + RandomSuffix(8), dir: dir, config: filepath.Join(dir, "config.yml")}
	htpasswd := filepath.Join(dir, "htpasswd")
	out, err := exec.Command("htpasswd", "-Bbn", r.User, r.Password).Output()
	if err != nil {
		tb.Fatalf("htpasswd: %v", err)
	}
	if err := os.WriteFile(htpasswd, out, 0o600); err != nil {
		tb.Fatal(err)
	}
	r.Addr = freeLoopbackAddr(tb)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: %s
auth:
  htpasswd:
    realm: rtmanager-test
    path: %s
`, filepath.Join(dir, "data"), r.Addr, RandomSuffix(16), htpasswd)
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	r.Start(tb)
	tb.Cleanup(r.Stop)
	return r
}

// freeLoopbackAddr returns 127.0.0.1:<a port free a moment ago>.
func freeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Start (re)starts the registry process on its address and waits until it
// answers; its storage survives a Stop.
func (r *Registry) Start(tb testing.TB) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command("docker-registry", "serve", r.config)
	log, err := os.OpenFile(filepath.Join(r.dir, "registry.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start docker-registry: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(r.dir, "registry.log"))
			r.cmd = nil
			tb.Fatalf("docker-registry exited during start-up: %s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("docker-registry on %s did not answer within 20s (last: %v)", r.Addr, err)
		}
	}
}

// Stop kills the registry process (by its pid) and waits for it to exit.
func (r *Registry) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// AuthFile writes a Docker config.json under tb's temp dir giving user and
// password for this registry, and returns its path.
func (r *Registry) AuthFile(tb testing.TB, user, password string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "config.json")
	r.WriteAuthFile(tb, path, user, password)
	return path
}

// WriteAuthFile (re)writes the Docker config.json at path with user and
// password for this registry, in the `auth` (base64 user:password) form.
func (r *Registry) WriteAuthFile(tb testing.TB, path, user, password string) {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"auths": map[string]any{
		r.Addr: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	// Write a new file and rename it over the old, as editors do, so a
	// reader never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// PushEngine pushes the test engine image (EngineImage) to this registry
// as <addr>/<repo>:<tag> with the docker CLI (its login kept in a private
// config dir), removes that tag from the local Docker again so a pull has
// to fetch it, and returns the reference. Its layers are those of
// EngineImageRef, which Docker keeps, so Docker fetches only the manifest
// and config of it; PushUniqueEngine makes an image nothing shares.
func (r *Registry) PushEngine(tb testing.TB, repo, tag string) string {
	tb.Helper()
	EngineImage(tb)
	ref := r.Addr + "/" + repo + ":" + tag
	r.docker(tb, "", "tag", EngineImageRef, ref)
	r.push(tb, ref)
	return ref
}

// PushUniqueEngine builds an engine image whose one layer no other image
// shares (the engine binary with random bytes appended, which the loader
// ignores), pushes it as <addr>/<repo>:<tag>, removes it locally and
// returns the reference: a pull of it downloads the whole image.
func (r *Registry) PushUniqueEngine(tb testing.TB, repo, tag string) string {
	tb.Helper()
	EngineImage(tb)
	bin, err := os.ReadFile(EngineBinary(tb))
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	bin = append(bin, []byte("rtmanager-test-unique-"+RandomSuffix(16))...)
	if err := os.WriteFile(filepath.Join(dir, "engine"), bin, 0o755); err != nil {
		tb.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY engine /engine\nEXPOSE 8080\nENTRYPOINT [\"/engine\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		tb.Fatal(err)
	}
	ref := r.Addr + "/" + repo + ":" + tag
	r.docker(tb, "", "build", "-q", "-t", ref, dir)
	r.push(tb, ref)
	return ref
}

// push logs in, pushes ref and removes the local tag.
func (r *Registry) push(tb testing.TB, ref string) {
	tb.Helper()
	r.docker(tb, r.Password, "login", "--username", r.User, "--password-stdin", r.Addr)
	r.docker(tb, "", "push", ref)
	r.docker(tb, "", "rmi", ref)
}

// docker runs the docker CLI against the test Docker host with a private
// config dir (so the login stays out of the user's), stdin as its input.
func (r *Registry) docker(tb testing.TB, stdin string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"--config", filepath.Join(r.dir, "docker"), "--host", DockerHost(tb)}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("docker %s: %v: %s", args[0], err, out)
	}
}
