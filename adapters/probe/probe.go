// Package probe implements ports.Prober over HTTP: an engine is ready when
// GET http://<endpoint><path> answers 2xx within the probe timeout.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// Defaults applied by New.
const (
	DefaultPath    = "/healthz"
	DefaultTimeout = 2 * time.Second
	// drainLimit caps how much of a response body is read so the
	// connection can be reused.
	drainLimit = 4 << 10
)

// ErrNotLoopback is returned (wrapped) for an endpoint whose host is not a
// loopback address while Config.AllowRemote is off.
var ErrNotLoopback = errors.New("endpoint is not a loopback address")

// Config configures New; the zero value probes /healthz on loopback
// endpoints with a 2 s timeout.
type Config struct {
	// Path is the health path; empty means DefaultPath. It must start
	// with "/".
	Path string
	// Timeout bounds one probe; zero means DefaultTimeout.
	Timeout time.Duration
	// AllowRemote permits endpoints whose host is not a loopback address
	// (SPEC §5 puts engines on 127.0.0.1; a driver plugin fronting a
	// cluster may not).
	AllowRemote bool
	// RemoteAllowed, when set, is asked for each non-loopback endpoint
	// while AllowRemote is off; true lets the probe through. rtmanager
	// answers from the driver's Capabilities.RemoteEndpoints, so a cluster
	// driver's pod addresses are probed and no other driver's are.
	RemoteAllowed func(context.Context) bool
	// Client is the HTTP client; nil means a client of its own that does
	// not follow redirects and uses no proxy.
	Client *http.Client
}

// Prober probes engines over HTTP. It is safe for concurrent use.
type Prober struct {
	path        string
	timeout     time.Duration
	allowRemote bool
	remote      func(context.Context) bool
	client      *http.Client
}

var _ ports.Prober = (*Prober)(nil)

// New validates cfg and returns the prober.
func New(cfg Config) (*Prober, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") || strings.ContainsAny(cfg.Path, " \t\r\n?#") {
		return nil, fmt.Errorf("probe: health path %q must start with / and hold no white space, query or fragment", cfg.Path)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("probe: negative timeout %s", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	c := cfg.Client
	if c == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil // an engine on loopback is never behind a proxy
		// One connection per probe: an engine is probed once per interval,
		// too rarely for a kept-alive connection to pay, and a keep-alive
		// transport keeps state per endpoint (a waiter queued for an idle
		// connection to every host it dialled without getting one), which
		// with 10,000 engines is ~6 MB of heap that lives for good.
		tr.DisableKeepAlives = true
		c = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return &Prober{path: cfg.Path, timeout: cfg.Timeout, allowRemote: cfg.AllowRemote, remote: cfg.RemoteAllowed, client: c}, nil
}

// Probe implements ports.Prober. Errors describe the miss: a bad or
// non-loopback endpoint (ErrNotLoopback), a connection failure, a timeout,
// or a non-2xx status. A redirect is a miss too.
func (p *Prober) Probe(ctx context.Context, endpoint string) error {
	if err := p.checkEndpoint(ctx, endpoint); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	u := "http://" + endpoint + p.path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", u, err)
	}
	req.Header.Set("User-Agent", "rtmanager-probe")
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("probe %s: no answer within %s", u, p.timeout)
		}
		return fmt.Errorf("probe %s: %w", u, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: status %d", u, resp.StatusCode)
	}
	return nil
}

// checkEndpoint requires host:port with a numeric port and, unless remote
// endpoints are allowed, a loopback host (an IP, or "localhost").
func (p *Prober) checkEndpoint(ctx context.Context, endpoint string) error {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("probe: endpoint %q is not host:port: %w", endpoint, err)
	}
	if host == "" || port == "" || strings.ContainsAny(endpoint, "/?#@ ") {
		return fmt.Errorf("probe: endpoint %q is not host:port", endpoint)
	}
	if p.allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if p.remote != nil && p.remote(ctx) {
		return nil
	}
	return fmt.Errorf("probe: endpoint %q: %w (engines listen on 127.0.0.1; set AllowRemote to probe other hosts)",
		endpoint, ErrNotLoopback)
}
