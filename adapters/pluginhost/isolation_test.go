package pluginhost_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
)

// probePlugin returns the path of testdata/probeplugin.
func probePlugin(tb testing.TB) string {
	return buildPlugin(tb, "adapters/pluginhost/testdata/probeplugin")
}

// TestPluginEnv: a plugin sees the allow-listed variables and what the host
// sets, never rtmanager's own configuration and secrets.
func TestPluginEnv(t *testing.T) {
	t.Setenv("RTMANAGER_API_TOKEN", "s3cret-token")
	t.Setenv("RTMANAGER_DATABASE_URL", "postgres://u:pw@db/rtm")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
	t.Setenv("LC_ALL", "C.UTF-8")
	// What a pod's kubelet sets: the Kubernetes plugin's in-cluster
	// configuration needs them (deploy/kubernetes).
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	state := t.TempDir()
	newHost(t, pluginhost.Config{Path: probePlugin(t), StateDir: state, Env: []string{"PROBE_EXTRA=1"}})
	data, err := os.ReadFile(filepath.Join(state, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range env {
		if strings.Contains(v, "s3cret") || strings.Contains(v, "pw@") || strings.Contains(v, "aws-secret") {
			t.Errorf("plugin sees %s=%s", k, v)
		}
		if strings.HasPrefix(k, "RTMANAGER_") && k != "RTMANAGER_PLUGIN_STATE_DIR" && k != driverplugin.Handshake.MagicCookieKey {
			t.Errorf("plugin sees %s", k)
		}
	}
	for _, k := range []string{"PATH", "LC_ALL", "PROBE_EXTRA", "RTMANAGER_PLUGIN_STATE_DIR", "PLUGIN_UNIX_SOCKET_DIR", "PLUGIN_CLIENT_CERT",
		"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"} {
		if _, ok := env[k]; !ok {
			t.Errorf("plugin environment lacks %s; has %v", k, keys(env))
		}
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestConfigEnvReserved: Config.Env cannot hand RTMANAGER_* to a plugin.
func TestConfigEnvReserved(t *testing.T) {
	_, err := pluginhost.New(ctxT(t), pluginhost.Config{
		Path: probePlugin(t), UnixSocketDir: t.TempDir(), Env: []string{"RTMANAGER_API_TOKEN=x"},
	})
	if err == nil || !strings.Contains(err.Error(), "RTMANAGER_API_TOKEN") {
		t.Fatalf("New with RTMANAGER_API_TOKEN in Env = %v, want an error naming it", err)
	}
}

// TestVerifiedCopyRuns: with a checksum, what runs is the verified copy.
// The binary at Path is overwritten in place (same inode, so a host that
// executed the path or an fd of it would run the new bytes) with a plugin
// of another protocol version; the plugin is killed; the respawn still
// runs the verified bytes and comes up.
func TestVerifiedCopyRuns(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "plugin")
	copyFile(t, processPlugin(t), bin)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sockets := t.TempDir()
	h := newHost(t, pluginhost.Config{
		Path: bin, SHA256: hex.EncodeToString(sum[:]), StateDir: t.TempDir(), UnixSocketDir: sockets,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	exe := func(pid int) string {
		p, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		return p
	}
	first := h.PluginPID()
	if got := exe(first); !strings.HasPrefix(got, sockets+"/") {
		t.Errorf("plugin runs %s, want the verified copy under %s", got, sockets)
	}

	swapped, err := os.ReadFile(buildPlugin(t, "adapters/pluginhost/testdata/v3plugin"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(bin, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(swapped); err != nil {
		t.Fatal(err)
	}
	f.Close()

	killPlugin(t, h)
	waitFor(t, 30*time.Second, "the verified plugin to be respawned", func() bool {
		pid := h.PluginPID()
		return pid != 0 && pid != first
	})
	if _, err := h.Capabilities(ctxT(t)); err != nil {
		t.Fatalf("Capabilities after the respawn: %v", err)
	}
	if got := exe(h.PluginPID()); !strings.HasPrefix(got, sockets+"/") {
		t.Errorf("respawned plugin runs %s, want the verified copy under %s", got, sockets)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(sockets, "verified-*")); len(left) != 0 {
		t.Errorf("Close left the verified copy: %v", left)
	}
}

// TestSocketDir: the socket dir is required, made private, and a symlink or
// a directory too long for a socket path is refused.
func TestSocketDir(t *testing.T) {
	bin := processPlugin(t)
	open := func(dir string) error {
		h, err := pluginhost.New(ctxT(t), pluginhost.Config{Path: bin, UnixSocketDir: dir, Logger: testLogger()})
		if err == nil {
			h.Close()
		}
		return err
	}
	if err := open(""); err == nil {
		t.Errorf("New without UnixSocketDir succeeded; want an error (no fallback to the shared temp dir)")
	}
	if err := open("/tmp/" + strings.Repeat("x", 100)); err == nil {
		t.Errorf("New with a 105-byte UnixSocketDir succeeded")
	}
	wide := filepath.Join(t.TempDir(), "wide")
	if err := os.Mkdir(wide, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(wide, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := open(wide); err != nil {
		t.Fatalf("New: %v", err)
	}
	if fi, err := os.Stat(wide); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(wide, link); err != nil {
		t.Fatal(err)
	}
	if err := open(link); err == nil {
		t.Errorf("New with a symlinked UnixSocketDir succeeded")
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	h := newHost(t, pluginhost.Config{Path: bin, UnixSocketDir: fresh})
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created socket dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	_ = h
}

// TestAutoMTLS: the plugin's socket does not speak plaintext gRPC: a local
// process that finds the socket cannot drive the plugin.
func TestAutoMTLS(t *testing.T) {
	sockets := t.TempDir()
	h := newHost(t, pluginhost.Config{Path: processPlugin(t), UnixSocketDir: sockets})
	if _, err := h.Capabilities(ctxT(t)); err != nil {
		t.Fatalf("Capabilities through the host: %v", err)
	}
	socks, _ := filepath.Glob(filepath.Join(sockets, "plugin*"))
	if len(socks) != 1 {
		t.Fatalf("sockets = %v, want one", socks)
	}
	conn, err := grpc.NewClient("unix://"+socks[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := driverv1.NewRuntimeDriverClient(conn).Capabilities(ctx, &driverv1.CapabilitiesRequest{}); err == nil {
		t.Fatalf("a plaintext client called the plugin; want the TLS handshake to refuse it")
	}
}

// TestPluginChildren: a plugin's children die with it. The probe plugin
// spawns a child in its process group; SIGKILL of the plugin (a crash)
// leaves the child orphaned unless the host ends the group, and so does
// Close.
func TestPluginChildren(t *testing.T) {
	state := t.TempDir()
	h := newHost(t, pluginhost.Config{Path: probePlugin(t), StateDir: state,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	children := func() []int {
		data, _ := os.ReadFile(filepath.Join(state, "children.txt"))
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			pids = append(pids, pid)
		}
		return pids
	}
	first := children()
	if len(first) != 1 || !procAlive(first[0]) {
		t.Fatalf("children = %v, want one live child", first)
	}
	killPlugin(t, h)
	waitFor(t, 15*time.Second, "the crashed plugin's child to be ended", func() bool { return !procAlive(first[0]) })
	waitFor(t, 30*time.Second, "the respawned plugin's child", func() bool { return len(children()) == 2 })
	second := children()[1]
	if !procAlive(second) {
		t.Fatalf("the respawned plugin's child %d is not running", second)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "Close to end the plugin's child", func() bool { return !procAlive(second) })
}
