// Package docker is the RuntimeDriver on the Docker Engine API.
//
// It uses github.com/moby/moby/client, the Engine's own Go client, because
// it negotiates the API version with the daemon on first contact: the same
// binary drives Debian's Docker 20.10 (API 1.41) and current engines. Its
// errors carry github.com/containerd/errdefs classes, which the driver
// translates into the ports sentinels.
//
// Containers follow SPEC §5 and §11: named spec.Name, labelled with
// spec.Labels and rtmanager.managed=true, on the bridge network
// "rtmanager" with inter-container traffic off, the engine port published
// on 127.0.0.1 (or the configured host IP) with a port Docker allocates, no
// privileges, all capabilities dropped, no-new-privileges, limits from the
// spec, json-file logs rotated at 10 MB × 3, spec.User and a read-only root
// filesystem with a tmpfs /tmp when asked, and no restart policy
// (rtmanager, not Docker, decides what runs).
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/internal/redact"
	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.RuntimeDriver = (*Driver)(nil)

// Config configures a Driver.
type Config struct {
	// Host is the Docker Engine address (unix:///var/run/docker.sock,
	// tcp://host:2376). Empty means DOCKER_HOST, or the default socket.
	Host string
	// HostIP is the address engine ports are published on when a spec has
	// none (default 127.0.0.1).
	HostIP string
	// Init runs Docker's init (tini) as PID 1 in every container, so
	// signals reach an engine that does not handle them as PID 1.
	Init bool
	// ReadonlyRootfs mounts every container's root filesystem read-only
	// (with a tmpfs /tmp), as spec.ReadOnlyRootFS does for one container.
	ReadonlyRootfs bool
	// Network is the bridge network engines are attached to, created with
	// inter-container traffic off when missing; DefaultNetwork when empty.
	Network string
	// PullTimeout bounds one image pull (default 30s).
	PullTimeout time.Duration
	// Auth holds the registry credentials pulls send (RTMANAGER_REGISTRY_AUTH);
	// nil sends none.
	Auth *registryauth.File
	// Logger receives event-stream reconnection notes (default slog.Default()).
	Logger *slog.Logger
}

// Driver runs game engine containers on one Docker Engine. It is safe for
// concurrent use.
type Driver struct {
	cli    *client.Client
	hostIP netip.Addr
	cfg    Config
	log    *slog.Logger

	netMu sync.Mutex
	netID string // the engine network's id once known
}

// New connects to the Docker Engine at cfg.Host and negotiates the API
// version. It returns an error wrapping ports.ErrUnavailable when the
// daemon cannot be reached and ports.ErrInvalid for a bad configuration.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.HostIP == "" {
		cfg.HostIP = "127.0.0.1"
	}
	hostIP, err := netip.ParseAddr(cfg.HostIP)
	if err != nil {
		return nil, fmt.Errorf("docker: host ip %q: %w: %v", cfg.HostIP, ports.ErrInvalid, err)
	}
	if cfg.PullTimeout <= 0 {
		cfg.PullTimeout = 30 * time.Second
	}
	if cfg.Network == "" {
		cfg.Network = DefaultNetwork
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opt := client.WithHostFromEnv()
	if cfg.Host != "" {
		opt = client.WithHost(cfg.Host)
	}
	cli, err := client.New(opt)
	if err != nil {
		return nil, fmt.Errorf("docker: client for %q: %w: %v", redact.URL(cfg.Host), ports.ErrInvalid, redact.Error(err))
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: connect %s: %w", redact.URL(cfg.Host), redact.Error(translate(err)))
	}
	return &Driver{cli: cli, hostIP: hostIP, cfg: cfg, log: cfg.Logger.With("driver", "docker")}, nil
}

// Close releases the client's connections. Event streams end with their
// contexts, not with Close.
func (d *Driver) Close() error { return d.cli.Close() }

// Capabilities reports the daemon's version and ID (the fingerprint several
// rtmanager instances compare to know they share a daemon).
func (d *Driver) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	info, err := d.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return ports.Capabilities{}, fmt.Errorf("docker: info: %w", translate(err))
	}
	return ports.Capabilities{
		Name:           "docker",
		Version:        info.Info.ServerVersion,
		Fingerprint:    info.Info.ID,
		PublishesPorts: true,
		OOMEvents:      true,
		Logs:           true,
		LogTimes:       true,
		Stats:          true,
	}, nil
}

// PrepareImage returns at once when image is present; otherwise it pulls
// it within Config.PullTimeout. A pull that fails for any reason but an
// unreachable daemon is ports.ErrImageUnavailable.
func (d *Driver) PrepareImage(ctx context.Context, image string) (err error) {
	defer wrap(&err, "docker: prepare image %s", image)
	return d.prepare(ctx, image)
}

func (d *Driver) prepare(ctx context.Context, image string) (err error) {
	if image == "" {
		return fmt.Errorf("%w: empty image reference", ports.ErrInvalid)
	}
	_, err = d.cli.ImageInspect(ctx, image)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return translate(err)
	}
	pullCtx, cancel := context.WithTimeout(ctx, d.cfg.PullTimeout)
	defer cancel()
	if err := d.pull(pullCtx, image); err != nil {
		return err
	}
	if _, err := d.cli.ImageInspect(ctx, image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("%w: missing after pull", ports.ErrImageUnavailable)
		}
		return translate(err)
	}
	return nil
}

// translate maps a Docker client error onto the ports sentinels, keeping
// the original in the chain.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: %w", ports.ErrNotFound, err)
	case client.IsErrConnectionFailed(err),
		cerrdefs.IsUnavailable(err),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%w: %w", ports.ErrConflict, err)
	}
	return err
}

// wrap adds context to a non-nil *errp once per function.
func wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}
