package containerd

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

func TestNormalizeRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rtmanager-test-engine:latest", "docker.io/library/rtmanager-test-engine:latest"},
		{"rtmanager-test-engine", "docker.io/library/rtmanager-test-engine:latest"},
		{"galaxy/engine:1.2", "docker.io/galaxy/engine:1.2"},
		{"docker.io/library/busybox:1", "docker.io/library/busybox:1"},
		{"registry.example:5000/game/engine", "registry.example:5000/game/engine:latest"},
		{"rtmanager-missing.invalid/engine:none", "rtmanager-missing.invalid/engine:none"},
	} {
		got, err := NormalizeRef(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "UPPER", "a b"} {
		if _, err := NormalizeRef(bad); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("NormalizeRef(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := New(ctx, Config{StateDir: t.TempDir()}); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("New without address = %v, want ErrInvalid", err)
	}
	if _, err := New(ctx, Config{Address: "/tmp/x.sock"}); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("New without state dir = %v, want ErrInvalid", err)
	}
	if _, err := New(ctx, Config{Address: "/tmp/x.sock", StateDir: t.TempDir(), Namespace: "bad ns"}); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("New with a bad namespace = %v, want ErrInvalid", err)
	}
	if _, err := New(ctx, Config{Address: "/tmp/x.sock", StateDir: t.TempDir(), HostIP: "localhost"}); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("New with a host name as host ip = %v, want ErrInvalid", err)
	}
	begin := time.Now()
	_, err := New(ctx, Config{Address: filepath.Join(t.TempDir(), "none.sock"), StateDir: t.TempDir()})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("New on a missing socket = %v, want ErrUnavailable", err)
	}
	if el := time.Since(begin); el > 5*time.Second {
		t.Errorf("New on a missing socket took %s, want a prompt failure", el)
	}
}

func TestImportImageNames(t *testing.T) {
	ref := engineImage(t)
	want := "docker.io/library/" + ref
	if !slices.Contains(importNames, want) {
		t.Errorf("ImportImage names = %v, want %q among them", importNames, want)
	}
	d := newDriver(t)
	ctx := ctxFor(t, 30*time.Second)
	for _, r := range []string{ref, want} {
		if err := d.PrepareImage(ctx, r); err != nil {
			t.Errorf("PrepareImage(%q): %v", r, err)
		}
	}
}

func TestStartHardeningAndCleanup(t *testing.T) {
	image := engineImage(t)
	d := newDriver(t)
	ctx := ctxFor(t, 60*time.Second)
	spec := testSpec(image, map[string]string{"JOB": "x"})
	spec.Limits = ports.Limits{MemoryBytes: 64 << 20, NanoCPUs: 500_000_000, PidsLimit: 64}
	c, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { d.Remove(context.Background(), c.ID) })

	ctr, err := d.client.LoadContainer(ctx, c.ID)
	if err != nil {
		t.Fatalf("LoadContainer: %v", err)
	}
	s, err := ctr.Spec(ctx)
	if err != nil {
		t.Fatalf("Spec: %v", err)
	}
	caps := s.Process.Capabilities
	for name, set := range map[string][]string{"bounding": caps.Bounding, "effective": caps.Effective,
		"permitted": caps.Permitted, "inheritable": caps.Inheritable, "ambient": caps.Ambient} {
		if len(set) != 0 {
			t.Errorf("%s capabilities = %v, want none", name, set)
		}
	}
	if !s.Process.NoNewPrivileges {
		t.Error("NoNewPrivileges is off")
	}
	if s.Linux.Seccomp == nil {
		t.Error("no seccomp profile")
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == "network" {
			t.Errorf("container has its own network namespace %+v; want the host's", ns)
		}
	}
	res := s.Linux.Resources
	if res.Memory == nil || res.Memory.Limit == nil || *res.Memory.Limit != 64<<20 {
		t.Errorf("memory limit = %+v, want %d", res.Memory, 64<<20)
	}
	if res.CPU == nil || res.CPU.Quota == nil || *res.CPU.Quota != 50_000 || *res.CPU.Period != cpuPeriod {
		t.Errorf("cpu = %+v, want quota 50000 per %d", res.CPU, cpuPeriod)
	}
	if res.Pids == nil || res.Pids.Limit == nil || *res.Pids.Limit != 64 {
		t.Errorf("pids = %+v, want 64", res.Pids)
	}

	_, port, _ := net.SplitHostPort(c.Endpoint)
	if c.Labels[LabelPort] != port || c.Labels[LabelHostIP] != "127.0.0.1" {
		t.Errorf("labels %v do not hold the endpoint %s", c.Labels, c.Endpoint)
	}
	waitHealthy(t, c.Endpoint)
	env := engineEnv(t, c.Endpoint)
	for k, v := range map[string]string{"PORT": port, "GAME_ID": "ctrd-test", "JOB": "x"} {
		if env[k] != v {
			t.Errorf("engine env %s = %q, want %q", k, env[k], v)
		}
	}
	logPath := c.Labels[LabelLogPath]
	if _, err := os.Stat(logPath); err != nil {
		t.Errorf("task log: %v", err)
	}

	if err := d.Remove(ctx, c.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(logPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("task log after Remove: %v, want it gone", err)
	}
	if _, err := d.client.SnapshotService(d.cfg.Snapshotter).Stat(ctx, c.ID); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot after Remove: %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(runcRoot(stateDir), testNamespace, c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("runc state after Remove: %v, want it gone", err)
	}
	if n := len(d.ports); n != 0 {
		t.Errorf("%d ports still reserved after Remove", n)
	}
}

func TestStartFailureLeavesNothing(t *testing.T) {
	d := newDriver(t)
	ctx := ctxFor(t, 60*time.Second)
	// The entrypoint is not executable, so the task cannot start.
	tarball := brokenImageTarball(t, "rtmanager-test-broken:"+testenv.RandomSuffix(4))
	names, err := d.ImportImage(ctx, tarball)
	if err != nil || len(names) != 1 {
		t.Fatalf("ImportImage = %v, %v", names, err)
	}
	t.Cleanup(func() { d.client.ImageService().Delete(context.Background(), names[0]) })
	spec := testSpec(names[0], nil)
	_, err = d.Start(ctx, spec)
	if err == nil {
		t.Fatal("Start of an image whose entrypoint cannot run succeeded")
	}
	if errors.Is(err, ports.ErrImageUnavailable) || errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("Start error %v is classified as an image or runtime outage", err)
	}
	t.Logf("start failure: %v", err)
	if _, err := d.client.LoadContainer(ctx, spec.Name); !errdefs.IsNotFound(err) {
		t.Errorf("container after a failed Start: %v, want not found", err)
	}
	if _, err := d.client.SnapshotService(d.cfg.Snapshotter).Stat(ctx, spec.Name); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot after a failed Start: %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(logDir(stateDir), spec.Name+".log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log after a failed Start: %v, want it gone", err)
	}
	if n := len(d.ports); n != 0 {
		t.Errorf("%d ports still reserved after a failed Start", n)
	}
}

// TestEventsCatchUpAfterOutage checks that an engine exiting while the
// daemon is down is reported once the stream has re-subscribed.
func TestEventsCatchUpAfterOutage(t *testing.T) {
	image := engineImage(t)
	d := newDriver(t)
	evCtx, stop := context.WithCancel(context.Background())
	defer stop()
	events, err := d.Events(evCtx)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	spec := testSpec(image, map[string]string{"ENGINE_EXIT_AFTER": "2s", "ENGINE_EXIT_CODE": "5"})
	c, err := d.Start(ctxFor(t, 60*time.Second), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { d.Remove(context.Background(), c.ID) })
	waitEvent(t, events, ports.EventStarted, c.ID, 30*time.Second)
	restartContainerd(t, func() {
		waitUntil(t, 30*time.Second, "the engine to exit", func() bool {
			_, err := http.Get("http://" + c.Endpoint + "/healthz")
			return err != nil
		})
	})
	ev := waitEvent(t, events, ports.EventExited, c.ID, 30*time.Second)
	if ev.ExitCode != 5 || ev.Labels[ports.LabelGameID] != "ctrd-test" {
		t.Errorf("exited event = %+v, want code 5 with the game label", ev)
	}
}

// TestSnapshotReportsMissedChanges checks what a re-subscription reports:
// a container known running that has exited, and one that has vanished.
func TestSnapshotReportsMissedChanges(t *testing.T) {
	image := engineImage(t)
	d := newDriver(t)
	ctx := ctxFor(t, 60*time.Second)
	c, err := d.Start(ctx, testSpec(image, nil))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { d.Remove(context.Background(), c.ID) })
	// Stop only once the engine serves: it has installed its SIGTERM
	// handler by then. Before that, SIGTERM to a process that is pid 1 of
	// its namespace is dropped (SIGKILL after the timeout: exit 137) or,
	// once the Go runtime is up but before signal.Notify, ends it with
	// exit 2 — not the clean exit 0 this test expects to see reported.
	waitHealthy(t, c.Endpoint)
	if err := d.Stop(ctx, c.ID, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	const ghost = "rtm-ctrd-test-ghost"
	s := &eventStream{
		d:       d,
		out:     make(chan ports.Event, 8),
		labels:  map[string]map[string]string{ghost: {ports.LabelGameID: "ghost"}},
		running: map[string]bool{c.ID: true, ghost: true},
	}
	if err := s.snapshot(ctx, true); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	close(s.out)
	got := map[string]ports.Event{}
	for ev := range s.out {
		got[string(ev.Type)+" "+ev.ContainerID] = ev
	}
	if ev, ok := got["exited "+c.ID]; !ok || ev.ExitCode != 0 || ev.Labels[ports.LabelGameID] != "ctrd-test" || ev.At.IsZero() {
		t.Errorf("exited event of %s = %+v (found %v); events %v", c.ID, ev, ok, got)
	}
	if ev, ok := got["removed "+ghost]; !ok || ev.Labels[ports.LabelGameID] != "ghost" {
		t.Errorf("removed event of %s = %+v (found %v); events %v", ghost, ev, ok, got)
	}
	if len(got) != 2 {
		t.Errorf("snapshot reported %d events, want 2: %v", len(got), got)
	}
	if running, known := s.running[c.ID]; !known || running {
		t.Errorf("after snapshot running[%s] = %v, %v; want false, true", c.ID, running, known)
	}
	if _, known := s.running[ghost]; known {
		t.Errorf("after snapshot %s is still tracked", ghost)
	}
}

// TestTimings measures create→running and a graceful stop over a few runs.
func TestTimings(t *testing.T) {
	image := engineImage(t)
	d := newDriver(t)
	var starts, stops []time.Duration
	for range 5 {
		ctx := ctxFor(t, 60*time.Second)
		spec := testSpec(image, nil)
		begin := time.Now()
		c, err := d.Start(ctx, spec)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		starts = append(starts, time.Since(begin))
		waitHealthy(t, c.Endpoint)
		begin = time.Now()
		if err := d.Stop(ctx, c.ID, 10*time.Second); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		stops = append(stops, time.Since(begin))
		if err := d.Remove(ctx, c.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	sort.Slice(stops, func(i, j int) bool { return stops[i] < stops[j] })
	t.Logf("Start (create→running) min %s median %s max %s", starts[0], starts[2], starts[4])
	t.Logf("Stop (SIGTERM→exited) min %s median %s max %s", stops[0], stops[2], stops[4])
}

func testSpec(image string, env map[string]string) ports.ContainerSpec {
	e := map[string]string{"GAME_ID": "ctrd-test"}
	for k, v := range env {
		e[k] = v
	}
	return ports.ContainerSpec{
		Name:  "rtm-ctrd-test-" + testenv.RandomSuffix(4),
		Image: image,
		Env:   e,
		Labels: map[string]string{
			ports.LabelManaged: "true", ports.LabelGameID: "ctrd-test",
			ports.LabelGeneration: "1", ports.LabelImageRef: image,
		},
		Port:   8080,
		HostIP: "127.0.0.1",
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitEvent(t *testing.T, events <-chan ports.Event, typ ports.EventType, id string, timeout time.Duration) ports.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed before %s of %s", typ, id)
			}
			if ev.Type == typ && ev.ContainerID == id {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %s within %s", typ, id, timeout)
		}
	}
}

// waitHealthy polls the engine at endpoint until /healthz answers 200.
func waitHealthy(t *testing.T, endpoint string) {
	t.Helper()
	waitUntil(t, 30*time.Second, "a healthy engine at "+endpoint, func() bool {
		resp, err := http.Get("http://" + endpoint + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func engineEnv(t *testing.T, endpoint string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + endpoint + "/env")
	if err != nil {
		t.Fatalf("GET /env: %v", err)
	}
	defer resp.Body.Close()
	var env map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("decode /env: %v", err)
	}
	return env
}

// brokenImageTarball writes a `docker save` tarball of an image named tag
// whose entrypoint is a plain text file.
func brokenImageTarball(t *testing.T, tag string) string {
	t.Helper()
	layer := tarBytes(t, map[string][]byte{"engine": []byte("not a program\n")})
	layerSum := sha256.Sum256(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/engine"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(layerSum[:])}},
	})
	if err != nil {
		t.Fatal(err)
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{tag}, "Layers": []string{"layer/layer.tar"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "broken.tar")
	data := tarBytes(t, map[string][]byte{"manifest.json": manifest, configName: config, "layer/layer.tar": layer})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tarBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, bytes.NewReader(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
