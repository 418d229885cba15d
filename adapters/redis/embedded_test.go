package redis

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestEmbeddedRequiresPassword: a client without the password gets NOAUTH
// for every command; with the URL's password it works; each start makes a
// new password.
func TestEmbeddedRequiresPassword(t *testing.T) {
	e := MustStartEmbedded(t)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{e.Addr()},
		ForceSingleClient: true, DisableCache: true, DisableRetry: true})
	if err == nil {
		defer rc.Close()
		err = rc.Do(testCtx(t), rc.B().Xadd().Key("runtime:start_jobs").Id("*").FieldValue().
			FieldValue("game_id", "forged").Build()).Error()
	}
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("XADD without the password: %v, want NOAUTH", err)
	}
	wrong := strings.Replace(e.URL(), "redis://default:", "redis://default:x", 1)
	if _, err := Connect(testCtx(t), wrong, Options{}); err == nil {
		t.Fatalf("Connect with a wrong password succeeded")
	}
	c := MustConnect(t, e.URL(), Options{})
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("Ping with the password: %v", err)
	}
	e2 := MustStartEmbedded(t)
	if pw(t, e.URL()) == pw(t, e2.URL()) || len(pw(t, e.URL())) < 20 {
		t.Fatalf("passwords %q and %q: want distinct random ones", pw(t, e.URL()), pw(t, e2.URL()))
	}
}

func pw(t *testing.T, url string) string {
	t.Helper()
	o, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	return o.Password
}

// TestEmbeddedLoopbackOnly: a non-loopback address is refused before
// anything listens.
func TestEmbeddedLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		e, err := StartEmbedded(addr)
		if err == nil {
			e.Close()
			t.Errorf("StartEmbedded(%q) succeeded, want a loopback-only error", addr)
			continue
		}
		if !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("StartEmbedded(%q): %v, want ErrInvalid naming loopback", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		e, err := StartEmbedded(addr)
		if err != nil {
			if strings.Contains(addr, "::1") && errors.Is(err, ports.ErrUnavailable) {
				continue // no IPv6 loopback on this host
			}
			t.Fatalf("StartEmbedded(%q): %v", addr, err)
		}
		host, _, _ := net.SplitHostPort(e.Addr())
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("StartEmbedded(%q) listens on %s", addr, e.Addr())
		}
		e.Close()
	}
}

// TestEmbeddedURLFile: the URL file is 0600 from the start, replaces what
// was there (a symlink is not followed), works as a Connect URL, and is
// removed by Close.
func TestEmbeddedURLFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "embedded-redis.url")
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	e, err := StartEmbedded("")
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	defer e.Close()
	if err := e.WriteURLFile(path); err != nil {
		t.Fatalf("WriteURLFile: %v", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("url file mode %v, want a regular file with 0600", fi.Mode())
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("the symlink target was written: %q", b)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSpace(string(b))
	if url != e.URL() {
		t.Fatalf("url file holds %q, want %q", url, e.URL())
	}
	MustConnect(t, url, Options{})
	if left, _ := filepath.Glob(filepath.Join(dir, ".embedded-redis.url.*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	e.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("url file after Close: %v, want it removed", err)
	}
}

// TestEmbeddedURLWorksWithRedisCLI: the URL file is what README tells
// operators to hand to `redis-cli -u`; redis-cli must authenticate with it
// (an empty user name made it send AUTH "" <password>, which failed).
func TestEmbeddedURLWorksWithRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		testenv.Missing(t, "redis-cli: %v", err)
	}
	e := MustStartEmbedded(t)
	out, err := exec.Command(cli, "--no-auth-warning", "-u", e.URL(), "PING").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "PONG" {
		t.Fatalf("redis-cli -u <url> PING = %q, %v; want PONG", out, err)
	}
}
