package pluginhost_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// openDir returns a new directory every user can enter (and, when
// writable, write), for files engines running as another uid use.
func openDir(t *testing.T, writable bool) string {
	t.Helper()
	dir := t.TempDir()
	mode := os.FileMode(0o755)
	if writable {
		mode = 0o777
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scriptImage writes an executable /bin/sh script and returns its image ref.
func scriptImage(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(openDir(t, false), "engine.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// engineUID returns a uid:gid no account on the machine uses.
func engineUID() (string, int) {
	uid := 61000 + rand.IntN(4000)
	return fmt.Sprintf("%d:%d", uid, uid), uid
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running engines as another uid needs a root plugin")
	}
}

// probeScript writes what the engine can reach to $OUT, then idles.
const probeScript = `{
  echo "uid=$(id -u)"
  if cat "$SECRET" >/dev/null 2>&1; then echo secret=read; else echo secret=denied; fi
  if cat /proc/$PLUGIN_PID/environ >/dev/null 2>&1; then echo environ=read; else echo environ=denied; fi
} > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
exec sleep 60
`

// probe starts the probe script through h with spec user and returns
// what it reported.
func probe(t *testing.T, h *pluginhost.Host, name, user string) string {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(openDir(t, true), "report")
	c, err := h.Start(ctxT(t), ports.ContainerSpec{
		Name: name, Image: scriptImage(t, probeScript), HostIP: "127.0.0.1", User: user,
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: name},
		Env:    map[string]string{"SECRET": secret, "OUT": out, "PLUGIN_PID": strconv.Itoa(h.PluginPID())},
	})
	if err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = h.Remove(ctxT(t), c.ID) })
	var report []byte
	waitFor(t, 20*time.Second, "the engine's report", func() bool {
		report, err = os.ReadFile(out)
		return err == nil
	})
	return string(report)
}

// TestEngineUser: an engine run as a dedicated uid (the plugin's --user, or
// the spec's User across the protocol) cannot read a 0600 file of root nor
// the plugin's /proc/<pid>/environ; without one it can (so the check means
// something on this machine).
func TestEngineUser(t *testing.T) {
	requireRoot(t)
	bin := processPlugin(t)
	plain := newHost(t, pluginhost.Config{Path: bin, StateDir: t.TempDir()})
	if got := probe(t, plain, "iso-baseline", ""); !strings.Contains(got, "secret=read") {
		t.Fatalf("an engine of a root plugin without a user reports %q; want it to read the secret", got)
	}
	specUser, specUID := engineUID()
	t.Run("spec", func(t *testing.T) {
		got := probe(t, plain, "iso-spec", specUser)
		want := fmt.Sprintf("uid=%d\nsecret=denied\nenviron=denied\n", specUID)
		if got != want {
			t.Errorf("engine with spec.User %s reports %q, want %q", specUser, got, want)
		}
	})
	t.Run("flag", func(t *testing.T) {
		flagUser, flagUID := engineUID()
		h := newHost(t, pluginhost.Config{Path: bin, StateDir: t.TempDir(), Args: []string{"--user=" + flagUser}})
		got := probe(t, h, "iso-flag", "")
		want := fmt.Sprintf("uid=%d\nsecret=denied\nenviron=denied\n", flagUID)
		if got != want {
			t.Errorf("engine of a plugin with --user=%s reports %q, want %q", flagUser, got, want)
		}
	})
}

// markedProcs counts the live processes whose environment holds marker.
func markedProcs(marker string) int {
	paths, _ := filepath.Glob("/proc/[0-9]*/environ")
	n := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), marker) {
			n++
		}
	}
	return n
}

// TestEngineForkBomb: an engine under a dedicated uid with a pids limit of
// 16 tries to start 64 processes (in a child shell, which exits when a fork
// fails); at most 16 run, and none outlives the engine's removal.
func TestEngineForkBomb(t *testing.T) {
	requireRoot(t)
	user, _ := engineUID()
	marker := fmt.Sprintf("RTM_FORKBOMB=%d", rand.Int64())
	h := newHost(t, pluginhost.Config{Path: processPlugin(t), StateDir: t.TempDir(), Args: []string{"--user=" + user}})
	out := filepath.Join(openDir(t, true), "done")
	c, err := h.Start(ctxT(t), ports.ContainerSpec{
		Name: "iso-forkbomb", HostIP: "127.0.0.1", Limits: ports.Limits{PidsLimit: 16},
		Image: scriptImage(t, `/bin/sh -c 'i=0; while [ $i -lt 64 ]; do sleep 60 & i=$((i+1)); done' 2>/dev/null
echo done > "$OUT"
exec sleep 60
`),
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "iso-forkbomb"},
		Env:    map[string]string{"OUT": out, "RTM_FORKBOMB": strings.TrimPrefix(marker, "RTM_FORKBOMB=")},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = h.Remove(ctxT(t), c.ID) })
	waitFor(t, 30*time.Second, "the fork loop to end", func() bool {
		if _, err := os.Stat(out); err == nil {
			return true
		}
		got, err := h.Inspect(ctxT(t), c.ID)
		return err == nil && got.State == ports.StateExited
	})
	n := markedProcs(marker)
	if n > 16 || n == 0 {
		t.Errorf("the engine runs %d processes, want 1..16", n)
	}
	t.Logf("the engine runs %d processes under a pids limit of 16", n)
	if err := h.Remove(ctxT(t), c.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	waitFor(t, 10*time.Second, "the engine's processes to end with it", func() bool { return markedProcs(marker) == 0 })
}

// TestImagePathRefused: the process plugin runs only the exact clean path
// of a file:// image: a symlink (even to an allowed engine), a path with
// "..", a path outside --image-root and a read-only rootfs request are
// invalid_request.
func TestImagePathRefused(t *testing.T) {
	engine := testenv.EngineBinary(t)
	dir := openDir(t, false)
	link := filepath.Join(dir, "engine")
	if err := os.Symlink(engine, link); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "real")
	copyFile(t, engine, real)
	h := newHost(t, pluginhost.Config{Path: processPlugin(t), StateDir: t.TempDir(), Args: []string{"--image-root=" + dir}})
	spec := func(image string) ports.ContainerSpec {
		return ports.ContainerSpec{Name: "iso-path", Image: image, HostIP: "127.0.0.1",
			Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "iso-path"}}
	}
	for name, s := range map[string]ports.ContainerSpec{
		"symlink":        spec("file://" + link),
		"dotdot":         spec("file://" + dir + "/../" + filepath.Base(dir) + "/real"),
		"outside root":   spec("file://" + engine),
		"read-only root": func() ports.ContainerSpec { s := spec("file://" + real); s.ReadOnlyRootFS = true; return s }(),
	} {
		if _, err := h.Start(ctxT(t), s); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("%s: Start(%s) = %v, want ErrInvalid", name, s.Image, err)
		}
		if !s.ReadOnlyRootFS {
			if err := h.PrepareImage(ctxT(t), s.Image); !errors.Is(err, ports.ErrInvalid) {
				t.Errorf("%s: PrepareImage(%s) = %v, want ErrInvalid", name, s.Image, err)
			}
		}
	}
	c, err := h.Start(ctxT(t), spec("file://"+real))
	if err != nil {
		t.Fatalf("Start of the real path under the root: %v", err)
	}
	_ = h.Remove(ctxT(t), c.ID)
}
