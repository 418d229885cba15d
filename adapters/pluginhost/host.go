// Package pluginhost is the `plugin` runtime driver: a ports.RuntimeDriver
// that runs a driver plugin binary with hashicorp/go-plugin and calls it over
// the driver protocol (plugins/proto/driver/v1 and v2): from protocol
// version 3 its unary calls as frames over a socket pair created for each
// launch (driverplugin.FrameConn; the plugin's end is its fd 3), its
// streams and every call of an older plugin over gRPC.
//
// The host runs only a verified copy of the binary when a SHA-256 is
// configured (see Isolation below), forwards the plugin's logs into slog, and supervises the
// plugin: when it dies the host notices (go-plugin ends the client's
// context; Client() would keep returning the stale client, so the host
// never reuses it), answers every call with an error wrapping
// ports.ErrUnavailable while it is down, and starts a new plugin process
// with exponential backoff. Events hands its caller one channel that
// survives respawns: the host re-subscribes to each new plugin.
//
// Re-attaching after a manager restart. The host does not use go-plugin's
// ReattachConfig (it would need the old plugin to outlive the manager, and
// it names the plugin by a bare pid that may be reused). A plugin exits
// when its host is gone (sdk.Serve watches its parent), and the new host
// starts a new plugin that recovers the engines from the driver's own
// durable state: the process plugin keeps one JSON file per engine in
// Config.StateDir and adopts live engines by pid and start time. Engines
// keep running throughout; only the control channel is new.
//
// Killing. Each plugin runs in its own process group (its pid is the group
// id). The host ends its plugin through go-plugin's Client.Kill, which
// signals the exec.Cmd it started, then SIGKILLs the rest of the group, so a
// plugin's own children (a `docker events` it spawned) never outlive it.
// Linux does not reuse a pid while it names a live process group, so the
// group signal reaches only the plugin's descendants that kept its group.
//
// Isolation (SPEC §11). A plugin gets an allow-listed environment (see
// envAllow), never rtmanager's RTMANAGER_* configuration and secrets; it
// talks over go-plugin AutoMTLS on a unix socket in Config.UnixSocketDir,
// which must be a private (0700) directory of rtmanager's own, and over the
// frame channel, an anonymous socket pair no other process can reach; and when
// Config.SHA256 is set, the host copies the binary into a private directory
// once, verifying the bytes it wrote, and every launch and respawn executes
// that copy: replacing the file at Config.Path after New changes nothing
// that runs.
package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
)

// Config configures a Host.
type Config struct {
	// Path is the plugin executable (RTMANAGER_PLUGIN_PATH). Required.
	Path string
	// Args are passed to the plugin.
	Args []string
	// SHA256 is the expected hex SHA-256 of Path (RTMANAGER_PLUGIN_SHA256).
	// When set, a binary that does not match is never run.
	SHA256 string
	// Env is added to the plugin's environment, which otherwise holds only
	// the allow-listed variables of the host's (PATH, HOME, TMPDIR, LANG,
	// LC_*, TZ, USER, LOGNAME). Names starting with RTMANAGER_ are refused.
	Env []string
	// StateDir is passed to the plugin in sdk.EnvStateDir; plugins keep
	// their durable state there. Created if missing. Optional.
	StateDir string
	// UnixSocketDir is where the plugin creates its gRPC socket
	// (PLUGIN_UNIX_SOCKET_DIR) and where the verified copy of the binary
	// lives. Required, at most 90 bytes (a socket path's limit), created
	// 0700 if missing; an existing one must be a directory owned by this
	// user (its mode is set to 0700). rtmanager uses
	// <RTMANAGER_DATA_DIR>/plugin-sockets. New removes the sockets in it
	// that plugins which died without cleaning up left behind.
	UnixSocketDir string
	// Logger receives the host's and the plugin's log lines; nil means
	// slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds one plugin launch and handshake; zero means 30s.
	StartTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between respawn attempts;
	// zero means 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration
}

// Host is a ports.RuntimeDriver backed by a supervised plugin process.
type Host struct {
	cfg      Config
	log      *slog.Logger
	checksum []byte
	exe      string   // what runs: Config.Path, or its verified copy
	exeDir   string   // the private directory of the verified copy, if any
	exeLock  *os.File // flocked while this host uses exeDir

	mu      sync.Mutex
	client  *plugin.Client       // nil while the plugin is down
	driver  *driverplugin.Client // nil while the plugin is down
	up      chan struct{}        // closed (and replaced) when a plugin comes up
	downErr error                // why the plugin is down
	closed  bool

	closeCh chan struct{}
	wg      sync.WaitGroup
}

// New verifies and launches the plugin and returns once it has answered the
// handshake. A checksum mismatch, a plugin speaking another protocol
// version, or a binary that is no driver plugin is an error here.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Path == "" {
		return nil, errors.New("pluginhost: Path is required")
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: %w", err)
	}
	cfg.Path = path
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	h := &Host{cfg: cfg, up: make(chan struct{}), closeCh: make(chan struct{})}
	h.log = cfg.Logger
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("driver_plugin", filepath.Base(path))
	if cfg.SHA256 != "" {
		sum, err := hex.DecodeString(cfg.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("pluginhost: SHA256 %q is not a hex SHA-256 digest", cfg.SHA256)
		}
		h.checksum = sum
	}
	if err := checkEnv(cfg.Env); err != nil {
		return nil, err
	}
	if cfg.UnixSocketDir == "" || len(cfg.UnixSocketDir) > maxSocketDir {
		return nil, fmt.Errorf("pluginhost: UnixSocketDir %q: %w", cfg.UnixSocketDir, errSocketDir)
	}
	if err := privateDir(cfg.UnixSocketDir); err != nil {
		return nil, fmt.Errorf("pluginhost: UnixSocketDir: %w", err)
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("pluginhost: %w", err)
		}
	}
	removeStaleSockets(cfg.UnixSocketDir)
	removeStaleCopies(cfg.UnixSocketDir)
	h.exe = path
	if h.checksum != nil {
		if h.exe, h.exeDir, h.exeLock, err = copyVerified(path, cfg.UnixSocketDir, h.checksum); err != nil {
			return nil, fmt.Errorf("pluginhost: %w", err)
		}
	}
	pc, drv, err := h.launchCtx(ctx)
	if err != nil {
		h.removeCopy()
		return nil, fmt.Errorf("pluginhost: start %s: %w", path, err)
	}
	h.client, h.driver = pc, drv
	h.wg.Add(1)
	go h.supervise(pc, drv)
	return h, nil
}

// launchCtx is launch bounded by ctx: go-plugin's start takes no context,
// so a launch that outlives ctx is killed when it finishes.
func (h *Host) launchCtx(ctx context.Context) (*plugin.Client, *driverplugin.Client, error) {
	type result struct {
		pc  *plugin.Client
		drv *driverplugin.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		pc, drv, err := h.launch()
		ch <- result{pc, drv, err}
	}()
	select {
	case r := <-ch:
		return r.pc, r.drv, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.pc != nil {
				killClient(r.pc)
			}
		}()
		return nil, nil, ctx.Err()
	}
}

// launch starts the plugin (the verified copy when a checksum is
// configured) in its own process group and dispenses the driver.
func (h *Host) launch() (*plugin.Client, *driverplugin.Client, error) {
	var secure *plugin.SecureConfig
	if h.checksum != nil {
		// The copy is private, so this never fails unless someone with
		// rtmanager's own rights changed it: go-plugin hashes it again
		// right before exec.
		secure = &plugin.SecureConfig{Checksum: h.checksum, Hash: sha256.New()}
	}
	frames, pluginEnd, err := framePair()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(h.exe, h.cfg.Args...)
	cmd.Env = append(pluginEnv(os.Environ(), h.cfg.Env, h.cfg.StateDir, h.cfg.UnixSocketDir), driverplugin.EnvFramesFD+"=3")
	cmd.ExtraFiles = []*os.File{pluginEnd} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  driverplugin.Handshake,
		VersionedPlugins: driverplugin.HostPlugins(frames),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLog(h.log),
		StartTimeout:     h.cfg.StartTimeout,
		AutoMTLS:         true,
		SkipHostEnv:      true, // cmd.Env is the whole environment
	})
	rpc, err := pc.Client()
	pluginEnd.Close() // the plugin has its copy (or never started)
	if pc.NegotiatedVersion() < driverplugin.ProtocolVersion {
		frames.Close() // an older plugin: every call over gRPC
	}
	if err != nil {
		frames.Close()
		killClient(pc)
		return nil, nil, err
	}
	raw, err := rpc.Dispense(driverplugin.PluginName)
	if err != nil {
		frames.Close()
		killClient(pc)
		return nil, nil, err
	}
	drv, ok := raw.(*driverplugin.Client)
	if !ok {
		frames.Close()
		killClient(pc)
		return nil, nil, fmt.Errorf("plugin dispensed %T, want a driver", raw)
	}
	return pc, drv, nil
}

// supervise waits for the plugin to die and respawns it with backoff until
// the host is closed.
func (h *Host) supervise(pc *plugin.Client, drv *driverplugin.Client) {
	defer h.wg.Done()
	for {
		select {
		case <-h.closeCh:
			return
		case <-drv.Done():
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		h.client, h.driver = nil, nil
		h.downErr = errors.New("plugin process exited")
		h.mu.Unlock()
		h.log.Warn("driver plugin exited; restarting it")
		removeSocket(pc)
		killClient(pc) // its children, then reap and end go-plugin's goroutines

		var err error
		backoff := h.cfg.MinBackoff
		for {
			pc, drv, err = h.launch()
			if err == nil {
				break
			}
			h.mu.Lock()
			h.downErr = err
			h.mu.Unlock()
			h.log.Error("restart driver plugin", "error", err, "retry_in", backoff)
			timer := time.NewTimer(backoff)
			select {
			case <-h.closeCh:
				timer.Stop()
				return
			case <-timer.C:
			}
			backoff = min(2*backoff, h.cfg.MaxBackoff)
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			killClient(pc)
			return
		}
		h.client, h.driver, h.downErr = pc, drv, nil
		close(h.up)
		h.up = make(chan struct{})
		h.mu.Unlock()
		h.log.Info("driver plugin restarted")
	}
}

// framePair returns the two ends of a new frame channel (an anonymous
// Unix stream socket pair): the host's as a net.Conn, the plugin's as the
// file its exec.Cmd passes as fd 3. Both are close-on-exec in the host, so
// no other child inherits them.
func framePair() (host net.Conn, pluginEnd *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("frame channel: %w", err)
	}
	hostFile := os.NewFile(uintptr(fds[0]), "frames-host")
	defer hostFile.Close() // FileConn holds a duplicate
	pluginEnd = os.NewFile(uintptr(fds[1]), "frames-plugin")
	if host, err = net.FileConn(hostFile); err != nil {
		pluginEnd.Close()
		return nil, nil, fmt.Errorf("frame channel: %w", err)
	}
	return host, pluginEnd, nil
}

// removeSocket deletes the unix socket of a dead plugin: a plugin killed by
// SIGKILL cannot remove it itself. The path is the one the host's own
// plugin reported at handshake.
func removeSocket(pc *plugin.Client) {
	rc := pc.ReattachConfig()
	if rc == nil || rc.Addr == nil || rc.Addr.Network() != "unix" {
		return
	}
	_ = os.Remove(rc.Addr.String())
}

// removeStaleSockets deletes the plugin sockets in dir that no process
// listens on any more: those of plugins that were SIGKILLed or exited
// because their host died. A socket that accepts a connection is left.
func removeStaleSockets(dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "plugin*"))
	for _, p := range paths {
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeSocket == 0 {
			continue
		}
		conn, err := net.DialTimeout("unix", p, time.Second)
		if err == nil {
			conn.Close()
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			_ = os.Remove(p)
		}
	}
}

// Close kills the plugin and stops supervising it. Engines keep running.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.closeCh)
	pc := h.client
	h.client, h.driver = nil, nil
	h.mu.Unlock()
	if pc != nil {
		killClient(pc)
	}
	h.wg.Wait()
	h.removeCopy()
	return nil
}
