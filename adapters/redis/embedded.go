package redis

import (
	"fmt"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/galaxy-game/rtmanager/ports"
)

// Embedded is an in-process Redis-protocol server (miniredis) listening on
// a loopback TCP port, so the same rueidis adapter runs without a
// redis-server: Connect to its URL like to any other. Other processes on
// the host can reach it too (redis-cli -p <port> XADD …).
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
}

// StartEmbedded starts an embedded server on addr ("host:port"; empty
// means "127.0.0.1:0", port 0 picks a free port). Errors: ErrInvalid for a
// bad address, ErrUnavailable when it cannot listen.
func StartEmbedded(addr string) (*Embedded, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("redis: embedded address %q: %w: %w", addr, ports.ErrInvalid, err)
	}
	mr := miniredis.NewMiniRedis()
	mr.ClockTTL(true)
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("redis: start embedded server on %s: %w: %w", addr, ports.ErrUnavailable, err)
	}
	return &Embedded{mr: mr, url: "redis://" + mr.Addr() + "/0"}, nil
}

// URL returns the redis:// URL of the server, for Connect.
func (e *Embedded) URL() string { return e.url }

// Addr returns the host:port the server listens on.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// FastForward makes every TTL d shorter at once, expiring those that
// reach zero; tests use it to let leases expire without waiting.
func (e *Embedded) FastForward(d time.Duration) { e.mr.FastForward(d) }

// Close stops the server and drops its data; clients connected to it fail
// with ErrUnavailable from then on.
func (e *Embedded) Close() { e.mr.Close() }
