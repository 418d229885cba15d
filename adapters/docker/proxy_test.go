package docker_test

import (
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// outage is a unix-socket proxy in front of the Docker daemon that can
// simulate a daemon restart for the drivers behind it: it drops every open
// connection (so event streams break) and refuses new ones until a client
// has tried to reconnect, then serves again. The shared daemon itself is
// never restarted, so other tests using it are not disturbed.
type outage struct {
	ln      net.Listener
	network string
	addr    string

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	down    bool
	refused chan struct{} // receives when a connection is refused while down
}

// startOutageProxy serves a proxy to dockerHost (unix:// or tcp://) and
// returns it; its Host is the address drivers should use.
func startOutageProxy(t *testing.T, dockerHost string) *outage {
	t.Helper()
	u, err := url.Parse(dockerHost)
	if err != nil {
		t.Fatalf("parse docker host %q: %v", dockerHost, err)
	}
	p := &outage{network: u.Scheme, addr: u.Host, conns: map[net.Conn]struct{}{}, refused: make(chan struct{}, 1)}
	if u.Scheme == "unix" {
		p.addr = u.Path
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "rtm-dp")
	if err != nil {
		t.Fatal(err)
	}
	if p.ln, err = net.Listen("unix", filepath.Join(dir, "docker.sock")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.ln.Close()
		p.dropAll()
		os.RemoveAll(dir)
	})
	go p.serve()
	return p
}

// Host is the proxy's address in DOCKER_HOST form.
func (p *outage) Host() string { return "unix://" + p.ln.Addr().String() }

func (p *outage) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			select {
			case p.refused <- struct{}{}:
			default:
			}
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *outage) forward(c net.Conn) {
	defer p.forget(c)
	up, err := net.Dial(p.network, p.addr)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.forget(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *outage) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *outage) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restart drops every connection, refuses new ones until a client has
// tried to reconnect (bounded by a deadline), then serves again.
func (p *outage) Restart(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	p.down = true
	select { // forget refusals of an earlier outage
	case <-p.refused:
	default:
	}
	p.mu.Unlock()
	p.dropAll()
	select {
	case <-p.refused:
	case <-time.After(30 * time.Second):
		t.Errorf("no client tried to reconnect within 30s of the simulated restart")
	}
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
