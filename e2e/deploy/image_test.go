//go:build e2e

package deploy

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// testLabel marks every container and volume the image test creates.
const testLabel = "rtmanager.test=deploy-image"

// TestImage builds the image with scripts/image.sh, runs it as deployers
// are told to (Docker socket mounted, --network host, data dir on a
// volume), starts and stops a game through its REST API, then stops and
// starts the container and replaces it by a new one on the same volume:
// the game's record survives both.
func TestImage(t *testing.T) {
	dockerHost := testenv.DockerHost(t)
	engine := testenv.EngineImage(t)
	suffix := testenv.RandomSuffix(4)
	version := "v0.0.0-e2e." + suffix
	revision := "e2e" + suffix

	out := script(t, 20*time.Minute, []string{"IMAGE=rtmanager-test-deploy:" + suffix,
		"VERSION=" + version, "REVISION=" + revision}, "scripts/image.sh")
	ref := lastLine(out)
	if ref != "rtmanager-test-deploy:"+suffix {
		t.Fatalf("image.sh last line = %q, want the image reference", ref)
	}
	t.Cleanup(func() { _, _ = run("docker", "rmi", "-f", ref) })

	// What the image declares.
	labels := must(t, "docker", "inspect", "--format",
		`{{index .Config.Labels "org.opencontainers.image.version"}}|{{index .Config.Labels "org.opencontainers.image.revision"}}|{{index .Config.Labels "org.opencontainers.image.source"}}`, ref)
	if want := version + "|" + revision + "|https://github.com/galaxy-game/rtmanager"; labels != want {
		t.Errorf("OCI labels = %q, want %q", labels, want)
	}
	if user := must(t, "docker", "inspect", "--format", "{{.Config.User}}", ref); user != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532 (non-root)", user)
	}
	if got := must(t, "docker", "run", "--rm", ref, "version"); !strings.HasPrefix(got, "rtmanager "+version+" (revision "+revision+",") {
		t.Errorf("docker run %s version = %q, want version %s revision %s", ref, got, version, revision)
	}

	// The host's CA bundle and a passwd naming only the rtmanager user.
	probe := "rtmanager-test-deploy-files-" + suffix
	must(t, "docker", "create", "--name", probe, "--label", testLabel, ref)
	files := t.TempDir()
	must(t, "docker", "cp", probe+":/etc/ssl/certs/ca-certificates.crt", files)
	must(t, "docker", "cp", probe+":/etc/passwd", files)
	must(t, "docker", "rm", "-f", probe)
	hostCA, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	imageCA, _ := os.ReadFile(filepath.Join(files, "ca-certificates.crt"))
	if len(imageCA) == 0 || !bytes.Equal(hostCA, imageCA) {
		t.Errorf("image CA bundle (%d bytes) is not the host's (%d bytes)", len(imageCA), len(hostCA))
	}
	if passwd, _ := os.ReadFile(filepath.Join(files, "passwd")); !strings.HasPrefix(string(passwd), "rtmanager:x:65532:65532:") ||
		strings.Count(string(passwd), "\n") != 1 {
		t.Errorf("image /etc/passwd = %q, want the rtmanager user only", passwd)
	}

	// The container, as docs/deploy.md runs it.
	sock := strings.TrimPrefix(dockerHost, "unix://")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("docker socket: %v", err)
	}
	gid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid))
	name := "rtmanager-test-deploy-" + suffix
	volume := name + "-data"
	scope := "deploy" + suffix // RTMANAGER_SCOPE is [a-z0-9]{1,20}
	must(t, "docker", "volume", "create", "--label", testLabel, volume)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := run("docker", "logs", "--tail", "100", name)
			t.Logf("rtmanager container log:\n%s", logs)
		}
		_, _ = run("docker", "rm", "-f", name)
		if ids, _ := run("docker", "ps", "-aq", "--filter", "label=rtmanager.scope="+scope); ids != "" {
			_, _ = run("docker", append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		_, _ = run("docker", "volume", "rm", "-f", volume)
	})
	addr := harness.FreeAddr(t)
	base := "http://" + addr
	runContainer := func() {
		must(t, "docker", "run", "-d", "--name", name, "--label", testLabel,
			"--network", "host", "--group-add", gid, "--stop-timeout", "40",
			"-v", sock+":/var/run/docker.sock", "-v", volume+":/var/lib/rtmanager",
			"--health-interval", "1s",
			"-e", "RTMANAGER_HTTP_ADDR="+addr,
			"-e", "RTMANAGER_EMBEDDED_REDIS_ADDR="+harness.FreeAddr(t),
			"-e", "RTMANAGER_SCOPE="+scope,
			"-e", "RTMANAGER_INSTANCE_ID="+name,
			ref)
		waitHealthy(t, name, base)
	}
	runContainer()

	game := harness.GameID("image")
	st, res := call(t, http.MethodPost, base+"/api/v1/internal/runtimes/"+game+"/start", map[string]any{"image_ref": engine})
	if st != http.StatusOK || res["outcome"] != "success" {
		t.Fatalf("start = %d %v", st, res)
	}
	rt := res["runtime"].(map[string]any)
	if st, _ := call(t, http.MethodGet, "http://"+rt["endpoint"].(string)+"/healthz", nil); st != http.StatusOK {
		t.Fatalf("engine %v health = %d", rt["endpoint"], st)
	}
	st, res = call(t, http.MethodPost, base+"/api/v1/internal/runtimes/"+game+"/stop", map[string]any{"reason": "game_finished"})
	if st != http.StatusOK || res["runtime"].(map[string]any)["status"] != "stopped" {
		t.Fatalf("stop = %d %v", st, res)
	}
	want := res["runtime"].(map[string]any)
	survives := func(when string) {
		t.Helper()
		st, got := call(t, http.MethodGet, base+"/api/v1/internal/runtimes/"+game, nil)
		if st != http.StatusOK || got["status"] != "stopped" || got["container_id"] != want["container_id"] ||
			got["image_ref"] != engine {
			t.Fatalf("%s: runtime = %d %v, want the stopped record %v", when, st, got, want)
		}
	}

	// docker stop sends SIGTERM to rtmanager as PID 1: it must exit 0.
	must(t, "docker", "stop", name)
	if code := must(t, "docker", "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code after docker stop = %s, want 0 (graceful shutdown)", code)
	}
	must(t, "docker", "start", name)
	waitHealthy(t, name, base)
	survives("after docker stop/start")

	// A new container on the same volume: the record lives on the volume.
	must(t, "docker", "rm", "-f", name)
	runContainer()
	survives("after replacing the container")
}

// waitHealthy waits until Docker reports the container healthy (the
// image's HEALTHCHECK, `rtmanager healthcheck`) and /readyz answers 200.
func waitHealthy(t *testing.T, name, base string) {
	t.Helper()
	harness.Eventually(t, 90*time.Second, name+" healthy", func() bool {
		state, err := run("docker", "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", name)
		if err != nil || strings.HasPrefix(state, "exited") || strings.HasPrefix(state, "dead") || state == "running unhealthy" {
			logs, _ := run("docker", "logs", "--tail", "50", name)
			t.Fatalf("container %s is %q (%v):\n%s", name, state, err, logs)
		}
		return state == "running healthy"
	})
	if st, _ := call(t, http.MethodGet, base+"/readyz", nil); st != http.StatusOK {
		t.Fatalf("readyz = %d", st)
	}
}
