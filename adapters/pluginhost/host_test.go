package pluginhost_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startEngine starts a test engine through d and waits until it is healthy.
func startEngine(t *testing.T, d ports.RuntimeDriver, name string) ports.Container {
	t.Helper()
	c, err := d.Start(ctxT(t), ports.ContainerSpec{
		Name:   name,
		Image:  "file://" + testenv.EngineBinary(t),
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: name},
		HostIP: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
	waitFor(t, 30*time.Second, "engine "+name+" healthy", func() bool { return healthy(c.Endpoint) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Remove(ctx, c.ID)
	})
	return c
}

func healthy(endpoint string) bool {
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + endpoint + "/healthz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// copyFile copies the plugin binary so a test may remove or swap it.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPluginCrash kills the plugin with SIGKILL while an engine runs and
// keeps the binary away so the respawn fails: every call reports
// ErrUnavailable; once the binary is back, the host respawns the plugin,
// calls succeed, the engine is untouched and still listed, and the event
// stream resumes.
func TestPluginCrash(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, processPlugin(t), bin)
	sockets := t.TempDir()
	h := newHost(t, pluginhost.Config{
		Path: bin, StateDir: t.TempDir(), UnixSocketDir: sockets,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	events, err := h.Events(ctxT(t))
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	c := startEngine(t, h, "crash-engine")
	pid := h.PluginPID()

	hidden := bin + ".away"
	if err := os.Rename(bin, hidden); err != nil {
		t.Fatal(err)
	}
	killPlugin(t, h)
	waitFor(t, 10*time.Second, "calls to fail while the plugin is down", func() bool {
		_, err := h.Inspect(ctxT(t), c.ID)
		return errors.Is(err, ports.ErrUnavailable)
	})
	for name, call := range map[string]func() error{
		"Inspect":      func() error { _, err := h.Inspect(ctxT(t), c.ID); return err },
		"List":         func() error { _, err := h.List(ctxT(t), nil); return err },
		"Capabilities": func() error { _, err := h.Capabilities(ctxT(t)); return err },
		"Stop":         func() error { return h.Stop(ctxT(t), c.ID, time.Second) },
	} {
		if err := call(); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("%s while the plugin is down = %v, want ErrUnavailable", name, err)
		}
	}
	if !healthy(c.Endpoint) {
		t.Errorf("the engine died with its plugin")
	}

	if err := os.Rename(hidden, bin); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the plugin to be respawned", func() bool {
		_, err := h.Capabilities(ctxT(t))
		return err == nil
	})
	if got := h.PluginPID(); got == pid || got == 0 {
		t.Errorf("plugin pid after respawn = %d, want a new process (old %d)", got, pid)
	}
	if left, _ := filepath.Glob(filepath.Join(sockets, "plugin*")); len(left) != 1 {
		t.Errorf("plugin sockets after a respawn: %v, want only the live plugin's", left)
	}
	got, err := h.Inspect(ctxT(t), c.ID)
	if err != nil || got.State != ports.StateRunning || got.Endpoint != c.Endpoint {
		t.Fatalf("Inspect after respawn = %+v, %v; want running at %s", got, err, c.Endpoint)
	}
	cs, err := h.List(ctxT(t), map[string]string{ports.LabelGameID: "crash-engine"})
	if err != nil || len(cs) != 1 || cs[0].ID != c.ID {
		t.Fatalf("List after respawn = %v, %v; want %s", cs, err, c.ID)
	}
	if !healthy(c.Endpoint) {
		t.Errorf("the engine is not healthy after the respawn")
	}
	// The same event channel delivers the new plugin's events.
	if err := h.Stop(ctxT(t), c.ID, 5*time.Second); err != nil {
		t.Fatalf("Stop after respawn: %v", err)
	}
	waitEvent(t, events, ports.EventExited, c.ID)
}

func waitEvent(t *testing.T, ch <-chan ports.Event, typ ports.EventType, id string) ports.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed while waiting for %s of %s", typ, id)
			}
			if e.Type == typ && e.ContainerID == id {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, id)
		}
	}
}

// TestManagerRestart closes the host (as a manager shutting down) while an
// engine runs; a new host on the same state dir lists it running, stops it
// and sees it exited.
func TestManagerRestart(t *testing.T) {
	bin, state := processPlugin(t), t.TempDir()
	first := newHost(t, pluginhost.Config{Path: bin, StateDir: state})
	c := startEngine(t, first, "restart-engine")
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !healthy(c.Endpoint) {
		t.Fatalf("closing the host stopped the engine")
	}
	second := newHost(t, pluginhost.Config{Path: bin, StateDir: state})
	cs, err := second.List(ctxT(t), map[string]string{ports.LabelGameID: "restart-engine"})
	if err != nil || len(cs) != 1 || cs[0].ID != c.ID || cs[0].State != ports.StateRunning || cs[0].Endpoint != c.Endpoint {
		t.Fatalf("List by the new host = %+v, %v; want %s running at %s", cs, err, c.ID, c.Endpoint)
	}
	if err := second.Stop(ctxT(t), c.ID, 5*time.Second); err != nil {
		t.Fatalf("Stop by the new host: %v", err)
	}
	got, err := second.Inspect(ctxT(t), c.ID)
	if err != nil || got.State != ports.StateExited {
		t.Fatalf("Inspect after Stop = %+v, %v; want exited", got, err)
	}
	if healthy(c.Endpoint) {
		t.Errorf("the engine still answers after Stop")
	}
}

// TestChecksum: a wrong SHA-256 refuses to run the plugin with a clear
// error; the right one runs it.
func TestChecksum(t *testing.T) {
	bin := processPlugin(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	right := hex.EncodeToString(sum[:])
	wrong := strings.Repeat("0", 64)

	_, err = pluginhost.New(ctxT(t), pluginhost.Config{Path: bin, SHA256: wrong, StateDir: t.TempDir(), UnixSocketDir: t.TempDir(), Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), right) {
		t.Errorf("New with a wrong SHA-256 = %v, want a refusal naming the actual digest", err)
	}
	_, err = pluginhost.New(ctxT(t), pluginhost.Config{Path: bin, SHA256: "not-hex", Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "SHA256") {
		t.Errorf("New with a malformed SHA-256 = %v, want a configuration error", err)
	}
	h := newHost(t, pluginhost.Config{Path: bin, SHA256: right, StateDir: t.TempDir()})
	if _, err := h.Capabilities(ctxT(t)); err != nil {
		t.Errorf("Capabilities with the right SHA-256: %v", err)
	}
}

// TestProtocolVersion: a plugin speaking only an unknown protocol version
// (99) is refused.
func TestProtocolVersion(t *testing.T) {
	bin := buildPlugin(t, "adapters/pluginhost/testdata/futureplugin")
	_, err := pluginhost.New(ctxT(t), pluginhost.Config{Path: bin, UnixSocketDir: t.TempDir(), Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "incompatible API version") {
		t.Fatalf("New with a protocol 99 plugin = %v, want an incompatible API version error", err)
	}
	t.Logf("refused: %v", err)
}

// TestNotAPlugin: a binary that is no driver plugin is refused.
func TestNotAPlugin(t *testing.T) {
	_, err := pluginhost.New(ctxT(t), pluginhost.Config{Path: "/bin/true", UnixSocketDir: t.TempDir(), Logger: testLogger(), StartTimeout: 5 * time.Second})
	if err == nil {
		t.Fatalf("New with /bin/true succeeded")
	}
	t.Logf("refused: %v", err)
}

// engineImageRef is the test engine as a process-driver image reference.
func engineImageRef(t *testing.T) string { return "file://" + testenv.EngineBinary(t) }

// TestPluginLogs: the plugin's log lines reach the host's slog logger with
// their level, message and attributes.
func TestPluginLogs(t *testing.T) {
	var logs testenv.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHost(t, pluginhost.Config{Path: processPlugin(t), StateDir: t.TempDir(), Logger: logger})
	c := startEngine(t, h, "log-engine")
	waitFor(t, 10*time.Second, "the plugin's start log line", func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"engine started"`) && strings.Contains(line, `"level":"INFO"`) &&
				strings.Contains(line, `"id":"`+c.ID+`"`) && strings.Contains(line, `"driver":"process"`) {
				return true
			}
		}
		return false
	})
}
