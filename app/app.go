// Package app binds rtmanager's adapters by configuration and runs them:
// the store, Redis (a server or the embedded one), the runtime driver,
// telemetry, the lifecycle services, the REST API, the stream ingress and
// the background loops (reconciler, health monitor, janitor).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/containerd"
	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/adapters/probe"
	redisx "github.com/galaxy-game/rtmanager/adapters/redis"
	"github.com/galaxy-game/rtmanager/adapters/rest"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/adapters/telemetry"
	"github.com/galaxy-game/rtmanager/app/config"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/hosts"
	"github.com/galaxy-game/rtmanager/internal/redact"
	"github.com/galaxy-game/rtmanager/ports"
)

// Main is one rtmanager instance: Open binds the adapters, Run serves until
// its context ends, Close releases what Open acquired.
type Main struct {
	Config  config.Config
	Logger  *slog.Logger
	Version string

	store    *sqlstore.Store
	embedded *redisx.Embedded
	redis    *redisx.Client
	queue    *redisx.Queue
	driver   ports.RuntimeDriver
	tel      *telemetry.Telemetry
	services *lifecycle.Services
	listener net.Listener
	closers  []func() error

	remoteMu    sync.Mutex
	remoteKnown bool // the driver's RemoteEndpoints has been read
	remote      bool
}

// EmbeddedRedisURLFile is the name, in the data dir, of the file holding
// the embedded Redis URL with its password (mode 0600).
const EmbeddedRedisURLFile = "embedded-redis.url"

// New returns an unopened Main. Its logger redacts secrets (URL
// passwords) from every line, whatever handler logger has.
func New(cfg config.Config, logger *slog.Logger, version string) *Main {
	if logger == nil {
		logger = slog.Default()
	}
	return &Main{Config: cfg, Logger: slog.New(redact.Handler(logger.Handler())), Version: version}
}

// Addr returns the address the HTTP server listens on, once Open returned.
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Services returns the lifecycle services, once Open returned.
func (m *Main) Services() *lifecycle.Services { return m.services }

// Store returns the store, once Open returned.
func (m *Main) Store() ports.Store { return m.store }

// RedisURL returns the URL of the Redis server in use (the embedded one's
// when embedded), once Open returned.
func (m *Main) RedisURL() string {
	if m.embedded != nil {
		return m.embedded.URL()
	}
	return m.Config.RedisURL
}

// Open binds every adapter, applies migrations when AutoMigrate is set, and
// listens on HTTPAddr. On error everything opened so far is closed.
func (m *Main) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	c := m.Config
	if err := c.CheckExposure(); err != nil {
		return err
	}
	if c.APIToken == "" && !hosts.IsLoopbackAddr(c.HTTPAddr) {
		m.Logger.Warn("the REST API listens on a non-loopback address without a token (RTMANAGER_INSECURE_NO_AUTH=true): anyone who reaches it controls every game",
			"addr", c.HTTPAddr)
	}
	// The data dir holds the database and the embedded Redis URL file:
	// private to this user (an existing dir keeps its mode).
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	if fi, err := os.Stat(c.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		m.Logger.Warn("the data dir is open to other users (it holds the database and the embedded Redis URL file): chmod 700 it",
			"data_dir", c.DataDir, "mode", fi.Mode().Perm().String())
	}
	if m.tel, err = telemetry.New(ctx, telemetry.Config{Version: m.Version, OTLPEndpoint: otlpEndpoint(c), Logger: m.Logger}); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	m.closers = append(m.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return m.tel.Shutdown(sctx)
	})
	if m.store, err = sqlstore.Open(ctx, c.DatabaseURL); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	m.closers = append(m.closers, m.store.Close)
	if c.AutoMigrate {
		if err := m.store.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := m.openRedis(ctx); err != nil {
		return err
	}
	if err := m.openDriver(ctx); err != nil {
		return err
	}
	return m.openServices(ctx)
}

// sharedDatabase reports whether the database URL names a server several
// instances may share (PostgreSQL) rather than a local SQLite file.
func sharedDatabase(dbURL string) bool {
	u, err := url.Parse(dbURL)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

func otlpEndpoint(c config.Config) string {
	if c.OTLPEndpoint != "" {
		return c.OTLPEndpoint
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
}

func (m *Main) openRedis(ctx context.Context) (err error) {
	url := m.Config.RedisURL
	if url == config.EmbeddedRedis {
		if m.embedded, err = redisx.StartEmbedded(m.Config.EmbeddedRedisAddr); err != nil {
			return fmt.Errorf("embedded redis: %w", err)
		}
		m.closers = append(m.closers, func() error { m.embedded.Close(); return nil })
		url = m.embedded.URL()
		file := filepath.Join(m.Config.DataDir, EmbeddedRedisURLFile)
		if err := m.embedded.WriteURLFile(file); err != nil {
			return fmt.Errorf("embedded redis: %w", err)
		}
		m.Logger.Info("embedded redis listening (password required; the URL is in the url file)",
			"addr", m.embedded.Addr(), "url_file", file)
		if sharedDatabase(m.Config.DatabaseURL) {
			m.Logger.Warn("RTMANAGER_REDIS_URL is embedded but the database is PostgreSQL: the game leases live in this instance's own Redis, so another instance on this database is not kept off its games (its reconciler removes their in-flight starts); give every instance the same RTMANAGER_REDIS_URL (SPEC §10)")
		}
	}
	opts := redisx.Options{ClientName: m.Config.InstanceID, MaxLen: int64(m.Config.StreamMaxLen)}
	if m.redis, err = redisx.Connect(ctx, url, opts); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	m.closers = append(m.closers, func() error { m.redis.Close(); return nil })
	if m.queue, err = m.redis.Queue(ctx, m.Config.InstanceID); err != nil {
		return fmt.Errorf("redis job queue: %w", err)
	}
	return nil
}

func (m *Main) openDriver(ctx context.Context) error {
	open := m.driverOpener()
	d, closeFn, err := open(ctx)
	switch {
	case err == nil:
		m.closers = append(m.closers, closeFn)
	case errors.Is(err, ports.ErrUnavailable) && m.Config.Driver != config.DriverPlugin:
		// The runtime is down, not misconfigured: serve anyway (readiness
		// says so, operations answer service_unavailable) and connect once
		// it answers.
		m.Logger.Warn("runtime unreachable at start-up; rtmanager serves and connects when it answers",
			"driver", m.Config.Driver, "err", err)
		lazy := &lazyDriver{open: open, retry: time.Second, last: time.Now(), lastErr: err}
		d = lazy
		m.closers = append(m.closers, lazy.Close)
	default:
		return fmt.Errorf("driver %s: %w", m.Config.Driver, err)
	}
	m.driver = m.tel.WrapDriver(d)
	return nil
}

// driverOpener returns the constructor of the configured driver.
func (m *Main) driverOpener() func(ctx context.Context) (ports.RuntimeDriver, func() error, error) {
	c := m.Config
	return func(ctx context.Context) (ports.RuntimeDriver, func() error, error) {
		auth, err := openRegistryAuth(c)
		if err != nil {
			return nil, nil, err
		}
		switch c.Driver {
		case config.DriverDocker:
			d, err := docker.New(ctx, docker.Config{Host: c.DockerHost, HostIP: c.HostIP, Logger: m.Logger,
				PullTimeout: c.PullTimeout, Auth: auth})
			if err != nil {
				return nil, nil, err
			}
			return d, d.Close, nil
		case config.DriverContainerd:
			d, err := containerd.New(ctx, containerd.Config{Address: c.ContainerdAddress, Namespace: c.ContainerdNamespace,
				StateDir: filepath.Join(c.DataDir, "containerd"), HostIP: c.HostIP, Auth: auth})
			if err != nil {
				return nil, nil, err
			}
			return d, d.Close, nil
		case config.DriverPlugin:
			// Plugin sockets (and the verified plugin copy) live in a
			// private dir under the data dir, never in a shared temp dir.
			sockets := filepath.Join(c.DataDir, "plugin-sockets")
			h, err := pluginhost.New(ctx, pluginhost.Config{Path: c.PluginPath, Args: c.PluginArgs, SHA256: c.PluginSHA256,
				StateDir: filepath.Join(c.DataDir, "plugin"), UnixSocketDir: sockets, Logger: m.Logger})
			if err != nil {
				return nil, nil, err
			}
			return h, h.Close, nil
		}
		return nil, nil, fmt.Errorf("unknown driver %q: %w", c.Driver, ports.ErrInvalid)
	}
}

func (m *Main) openServices(ctx context.Context) (err error) {
	c := m.Config
	var prober ports.Prober
	if c.EngineHealthPath != "" {
		if prober, err = probe.New(probe.Config{Path: c.EngineHealthPath, RemoteAllowed: m.remoteEndpoints}); err != nil {
			return fmt.Errorf("prober: %w", err)
		}
	}
	store := m.tel.WrapStore(m.store)
	m.services, err = lifecycle.New(lifecycle.Deps{
		Records: store, Operations: store, Leases: m.redis.Leases(), Driver: m.driver,
		Health: m.redis.HealthStream(), Snapshots: store, Prober: prober, Telemetry: m.tel, Logger: m.Logger,
		Config: lifecycle.Config{StopTimeout: c.StopTimeout, StartTimeout: c.StartTimeout, LeaseTTL: c.LeaseTTL,
			EnginePort: c.EnginePort, HostIP: c.HostIP, Allow: c.ImageAllow, Scope: c.Scope,
			Restart: lifecycle.RestartConfig{Default: c.Restart.Policy,
				Backoff: core.Backoff{Base: c.Restart.Backoff, Max: c.Restart.BackoffMax, ResetAfter: c.Restart.ResetAfter}},
			PullPolicy: c.PullPolicy, PullTimeout: c.PullTimeout,
			EnvDeny: c.EnvDeny, MaxInflight: c.MaxInflight, MaxRuntimes: c.MaxRuntimes, ImageSchemes: imageSchemes(c.Driver),
			EngineUser: c.EngineUser, ReadOnlyRootFS: c.ReadOnlyRootFS,
			Limits: ports.Limits{MemoryBytes: c.MemoryLimit, NanoCPUs: c.NanoCPUs, PidsLimit: c.PidsLimit}},
	})
	if err != nil {
		return fmt.Errorf("lifecycle: %w", err)
	}
	m.tel.ObservePending(m.queue.Pending)
	m.tel.ObserveRuntimes(m.store.CountByStatus)
	if m.listener, err = net.Listen("tcp", c.HTTPAddr); err != nil {
		return fmt.Errorf("listen %s: %w", c.HTTPAddr, err)
	}
	return nil
}

// remoteEndpoints reports whether the driver declares that its endpoints
// need not be on loopback (Capabilities.RemoteEndpoints, a cluster driver).
// The endpoints probed are only ever those the driver returned. The first
// answer is kept; while the driver cannot be asked, the answer is no.
func (m *Main) remoteEndpoints(ctx context.Context) bool {
	m.remoteMu.Lock()
	defer m.remoteMu.Unlock()
	if !m.remoteKnown {
		caps, err := m.driver.Capabilities(ctx)
		if err != nil {
			return false
		}
		m.remoteKnown, m.remote = true, caps.RemoteEndpoints
	}
	return m.remote
}

// readyTimeout bounds one readiness probe of a dependency.
const readyTimeout = 3 * time.Second

// checks are the dependencies /readyz probes, by the names it reports.
func (m *Main) checks() []rest.Check {
	bounded := func(probe func(ctx context.Context) error) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			return probe(ctx)
		}
	}
	return []rest.Check{
		{Name: "database", Probe: bounded(m.store.Ping)},
		{Name: "redis", Probe: bounded(m.redis.Ping)},
		{Name: "driver", Probe: bounded(func(ctx context.Context) error {
			_, err := m.driver.Capabilities(ctx)
			return err
		})},
	}
}

// Ready reports whether the database, Redis and the driver answer; the
// error names each one that does not.
func (m *Main) Ready(ctx context.Context) error {
	var errs []error
	for _, c := range m.checks() {
		if err := c.Probe(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Run serves the REST API and runs the ingress and the background loops
// until ctx ends, then shuts down gracefully within ShutdownTimeout: the
// HTTP server stops taking requests and finishes the ones in flight, the
// ingress stops reading and finishes its jobs, the loops stop.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	handler := rest.New(rest.Config{Services: m.services, Store: m.tel.WrapStore(m.store), Token: c.APIToken,
		AllowedHosts: c.AllowedHosts, Checks: m.checks(), Metrics: m.tel.Handler(), Logger: m.Logger, Telemetry: m.tel,
		Streams: ctx})
	srv := rest.NewHTTPServer(handler)
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	srv.ErrorLog = slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)
	worker, err := ingress.New(ingress.Config{Queue: m.queue, Services: m.services, Concurrency: c.StreamConcurrency,
		ClaimIdle: c.ClaimIdle, StopGrace: c.ShutdownTimeout, MaxDeliveries: c.MaxDeliveries, Telemetry: m.tel, Logger: m.Logger})
	if err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	loops, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := worker.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("ingress: %w", err)
		}
	}()
	var bg sync.WaitGroup
	m.startLoops(loops, &bg)
	m.Logger.Info("rtmanager serving", "addr", m.Addr(), "driver", c.Driver, "instance", c.InstanceID, "version", m.Version)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	m.Logger.Info("rtmanager shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		m.Logger.Warn("http shutdown", "err", err)
	}
	stopLoops()
	wg.Wait()
	bg.Wait()
	return runErr
}

// startLoops starts the reconciler, janitor and health monitor.
func (m *Main) startLoops(ctx context.Context, wg *sync.WaitGroup) {
	c := m.Config
	rec := m.services.NewReconciler(c.OrphanGrace)
	jan := m.services.NewJanitor(c.CleanupAfter)
	mon := m.services.NewMonitor(c.ProbeFailures)
	every := func(name string, d time.Duration, now bool, f func(context.Context)) {
		wg.Add(1)
		pass := func() { ports.Guard(ctx, m.tel, m.Logger, name, func() { f(ctx) }) }
		go func() {
			defer wg.Done()
			if now {
				pass()
			}
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					pass()
				}
			}
		}()
	}
	every("reconcile", c.ReconcileInterval, true, func(ctx context.Context) {
		rep, err := rec.Pass(ctx)
		if err != nil {
			m.Logger.Warn("reconcile pass", "err", err)
			return
		}
		m.Logger.Debug("reconcile pass", "report", fmt.Sprintf("%+v", rep))
	})
	every("janitor", min(c.ReconcileInterval, max(c.CleanupAfter/4, time.Second)), false, func(ctx context.Context) {
		if _, _, err := jan.Pass(ctx); err != nil {
			m.Logger.Warn("janitor pass", "err", err)
		}
	})
	m.startImageGC(ctx, every)
	every("probe", c.ProbeInterval, false, func(ctx context.Context) {
		if err := mon.ProbeAll(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("probe pass", "err", err)
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.watchEvents(ctx, mon)
	}()
	auto := m.services.NewAutoRestarter()
	wg.Add(1)
	go func() {
		defer wg.Done()
		auto.Run(ctx)
	}()
}

// watchEvents feeds driver events to the monitor, subscribing again with a
// back-off when the stream cannot be opened.
func (m *Main) watchEvents(ctx context.Context, mon *lifecycle.Monitor) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		events, err := m.driver.Events(ctx)
		if err != nil {
			m.Logger.Warn("subscribe to driver events", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		subscribed := time.Now()
		for ev := range events {
			ports.Guard(ctx, m.tel, m.Logger, "events", func() { mon.HandleEvent(ctx, ev) })
		}
		// A stream that ends at once must not make this loop spin.
		if time.Since(subscribed) < time.Second {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
		} else {
			backoff = 100 * time.Millisecond
		}
	}
}

// Close releases everything Open acquired, in reverse order.
func (m *Main) Close() error {
	var errs []error
	if m.listener != nil {
		_ = m.listener.Close()
	}
	for i := len(m.closers) - 1; i >= 0; i-- {
		if err := m.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	m.closers = nil
	return errors.Join(errs...)
}

// imageSchemes returns the image reference schemes driver runs besides
// registry references: plugins (the process plugin) run file:// images;
// Docker and containerd only registry references.
func imageSchemes(driver string) []string {
	if driver == config.DriverPlugin {
		return []string{core.FileScheme}
	}
	return nil
}
