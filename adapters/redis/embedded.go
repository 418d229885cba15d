package redis

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/galaxy-game/rtmanager/ports"
)

// Embedded is an in-process Redis-protocol server (miniredis) listening on
// a loopback TCP port, so the same rueidis adapter runs without a
// redis-server: Connect to its URL like to any other.
//
// Access control (SPEC §11): the server listens on a loopback address only
// and every connection must AUTH with a random password made at each start
// (crypto/rand, 130 bits); URL carries it. Local tools get the URL from
// the file WriteURLFile writes (mode 0600), e.g.
// redis-cli -u "$(cat ~/.local/share/rtmanager/embedded-redis.url)" XADD ….
// Other local users can still connect to the port, but without the
// password every command answers NOAUTH.
//
// Key TTLs follow the wall clock: the server runs with miniredis's
// ClockTTL, which advances every TTL by the time elapsed since the last
// command whenever a command touches the data, so a lease expires at its
// deadline as on a real Redis (stock miniredis only expires keys when the
// test calls FastForward).
//
// What embedded mode does not promise:
//   - durability: all data lives in memory and is gone when the process
//     exits or Close is called; pending jobs, results and health events do
//     not survive a restart (the queue re-creates its group afterwards);
//   - sharing between processes beyond the one that runs it: several
//     rtmanager instances need a real Redis;
//   - full Redis fidelity: miniredis implements the commands rtmanager
//     uses, but XINFO's lag and entries-read fields differ, MAXLEN ~ trims
//     exactly, and performance and memory limits are not Redis's.
type Embedded struct {
	mr  *miniredis.Miniredis
	url string

	mu      sync.Mutex
	urlFile string
}

// StartEmbedded starts an embedded server on addr ("host:port" whose host
// is a loopback IP address or "localhost"; empty means "127.0.0.1:0", port
// 0 picks a free port) with a fresh random password. Errors: ErrInvalid for
// a bad or non-loopback address, ErrUnavailable when it cannot listen.
func StartEmbedded(addr string) (*Embedded, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("redis: embedded address %q: %w: %w", addr, ports.ErrInvalid, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("redis: embedded address %q: the embedded server listens on loopback only: %w", addr, ports.ErrInvalid)
	}
	password := rand.Text()
	mr := miniredis.NewMiniRedis()
	mr.ClockTTL(true)
	mr.RequireAuth(password)
	if err := mr.StartAddr(net.JoinHostPort(host, port)); err != nil {
		return nil, fmt.Errorf("redis: start embedded server on %s: %w: %w", addr, ports.ErrUnavailable, err)
	}
	u := url.URL{Scheme: "redis", User: url.UserPassword("default", password), Host: mr.Addr(), Path: "/0"}
	return &Embedded{mr: mr, url: u.String()}, nil
}

// URL returns the redis:// URL of the server, password included, for
// Connect. It is a secret: never log it.
func (e *Embedded) URL() string { return e.url }

// Addr returns the host:port the server listens on.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// WriteURLFile writes URL and a newline to path for local tools, atomically
// and never readable by others: the content goes to a new file created
// with mode 0600 in path's directory, which is then renamed over path (a
// file or symlink already there is replaced, not followed). Close removes
// the file. Errors: the file system's.
func (e *Embedded) WriteURLFile(path string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("redis: write embedded url file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp opens with O_EXCL and mode 0600; the Chmod only guards
	// against a platform where that differs.
	_, werr := f.WriteString(e.url + "\n")
	if err := errors.Join(werr, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("redis: write embedded url file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("redis: write embedded url file: %w", err)
	}
	e.mu.Lock()
	e.urlFile = path
	e.mu.Unlock()
	return nil
}

// FastForward makes every TTL d shorter at once, expiring those that
// reach zero; tests use it to let leases expire without waiting.
func (e *Embedded) FastForward(d time.Duration) { e.mr.FastForward(d) }

// Close stops the server, drops its data and removes the URL file if
// WriteURLFile wrote one; clients connected to it fail with ErrUnavailable
// from then on.
func (e *Embedded) Close() {
	e.mr.Close()
	e.mu.Lock()
	path := e.urlFile
	e.urlFile = ""
	e.mu.Unlock()
	if path != "" {
		_ = os.Remove(path)
	}
}
