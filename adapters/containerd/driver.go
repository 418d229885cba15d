// Package containerd is the built-in runtime driver that runs game engine
// containers on a containerd daemon through its v2 Go client. Containers
// share the host network (no CNI): the driver allocates a free loopback port
// per container, passes it to the engine in PORT and keeps it as a container
// label, so any driver instance pointed at the same daemon and namespace can
// recover the endpoint.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/galaxy-game/rtmanager/internal/logrotate"
	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/ports"
)

// Defaults of Config.
const (
	DefaultNamespace   = "rtmanager"
	DefaultHostIP      = "127.0.0.1"
	DefaultSnapshotter = "overlayfs"
	DefaultDialTimeout = 2 * time.Second
	// runtimeName is the shim every container runs under.
	runtimeName = "io.containerd.runc.v2"
)

// Driver-private container labels, beside the ports.Label* conventions.
const (
	// LabelPort holds the loopback port allocated for the engine.
	LabelPort = "rtmanager.port"
	// LabelHostIP holds the address the endpoint is reported on.
	LabelHostIP = "rtmanager.host_ip"
	// LabelLogPath holds the file the task's stdout and stderr go to.
	LabelLogPath = "rtmanager.log_path"
	// LabelStartedAt holds the RFC 3339 time the task was started.
	LabelStartedAt = "rtmanager.started_at"
	// LabelImage holds the image ref as the spec gave it (before
	// NormalizeRef), which Inspect reports as Container.Image.
	LabelImage = "rtmanager.image"
	// LabelOOMKilled is set to "true" when the event stream saw the
	// container's task killed for memory.
	LabelOOMKilled = "rtmanager.oom_killed"
)

// Config configures a Driver.
type Config struct {
	// Address is the containerd socket path (required).
	Address string
	// Namespace is the containerd namespace all containers live in;
	// DefaultNamespace when empty.
	Namespace string
	// StateDir holds the runc root and the task log files (required). It
	// is created when missing.
	StateDir string
	// HostIP is the address endpoints are reported on when a spec carries
	// no HostIP; DefaultHostIP when empty.
	HostIP string
	// Snapshotter unpacks images and holds container root filesystems;
	// DefaultSnapshotter when empty.
	Snapshotter string
	// PullMissing makes PrepareImage pull an image that is not present.
	// Off by default: a missing image then fails fast with
	// ports.ErrImageUnavailable instead of waiting on an unreachable
	// registry.
	PullMissing bool
	// Auth holds the registry credentials pulls send (RTMANAGER_REGISTRY_AUTH);
	// nil sends none.
	Auth *registryauth.File
	// DialTimeout bounds one connection attempt to the socket (the
	// client waits that long for a missing socket to appear) and the
	// back-off between reconnections; DefaultDialTimeout when zero.
	DialTimeout time.Duration
}

// Driver runs game engines as containerd containers. It is safe for
// concurrent use.
type Driver struct {
	cfg    Config
	client *client.Client

	mu sync.Mutex
	// ports holds the ports this instance allocated, with when, so two
	// concurrent starts never receive the same one before its engine binds
	// it. A reservation lapses after portHold or when this instance
	// removes the container, whichever comes first: a container removed by
	// another instance sharing the daemon must not pin its port here for
	// the life of the process.
	ports map[int]time.Time
	// now is the clock of port reservations.
	now func() time.Time
	// stopRotation ends the log rotation loop.
	stopRotation context.CancelFunc
}

// portHold is how long an allocated port stays reserved: far longer than
// an engine takes to bind it (the start timeout), after which a port in use
// is refused by the listen probe itself.
const portHold = 10 * time.Minute

var _ ports.RuntimeDriver = (*Driver)(nil)

// New connects to the containerd daemon at cfg.Address, checks that it
// answers and prepares cfg.StateDir. Errors: ports.ErrInvalid for a bad
// config, ports.ErrUnavailable when the daemon cannot be reached.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("containerd driver: address is required: %w", ports.ErrInvalid)
	}
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("containerd driver: state dir is required: %w", ports.ErrInvalid)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if err := identifiers.Validate(cfg.Namespace); err != nil {
		return nil, fmt.Errorf("containerd driver: namespace: %w: %w", ports.ErrInvalid, err)
	}
	if cfg.HostIP == "" {
		cfg.HostIP = DefaultHostIP
	}
	if net.ParseIP(cfg.HostIP) == nil {
		return nil, fmt.Errorf("containerd driver: host ip %q is not an IP address: %w", cfg.HostIP, ports.ErrInvalid)
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = DefaultSnapshotter
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	for _, dir := range []string{cfg.StateDir, runcRoot(cfg.StateDir), logDir(cfg.StateDir)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("containerd driver: %w", err)
		}
	}
	c, err := client.New(cfg.Address,
		client.WithDefaultNamespace(cfg.Namespace), client.WithTimeout(cfg.DialTimeout))
	if err != nil {
		return nil, fmt.Errorf("containerd driver: connect %s: %w", cfg.Address, translate(err))
	}
	d := &Driver{cfg: cfg, client: c, ports: map[int]time.Time{}, now: time.Now}
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd driver: %s: %w", cfg.Address, translate(err))
	}
	// The shim writes the task logs; this bounds them (10 MB × 3).
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stopRotation = stop
	go logrotate.Run(rctx, filepath.Join(logDir(cfg.StateDir), "*.log"), func(err error) {
		slog.Warn("containerd driver: rotate engine logs", "err", err)
	})
	return d, nil
}

// Close stops log rotation and closes the connection to the daemon; cancel
// the contexts of running Events streams first. Containers keep running.
func (d *Driver) Close() error {
	d.stopRotation()
	return d.client.Close()
}

// Capabilities reports the daemon version and, as fingerprint, the
// daemon's UUID joined to the namespace, so instances sharing one daemon
// and namespace see the same fingerprint. Errors: ports.ErrUnavailable.
func (d *Driver) Capabilities(ctx context.Context) (ports.Capabilities, error) {
	v, err := d.client.Version(ctx)
	if err != nil {
		return ports.Capabilities{}, fmt.Errorf("containerd version: %w", translate(err))
	}
	fingerprint := d.cfg.Address
	if srv, err := d.client.Server(ctx); err == nil && srv.UUID != "" {
		fingerprint = srv.UUID
	}
	return ports.Capabilities{
		Name:        "containerd",
		Version:     v.Version,
		Fingerprint: fingerprint + "/" + d.cfg.Namespace,
		OOMEvents:   true,
		Logs:        true,
		Stats:       true,
	}, nil
}

// NormalizeRef returns the name containerd stores ref under: the Docker
// normalisation, so the short ref "rtmanager-test-engine:latest" becomes
// "docker.io/library/rtmanager-test-engine:latest", "org/img" becomes
// "docker.io/org/img:latest", and a ref with a registry host is kept (with
// ":latest" added when it has neither tag nor digest). It is the same
// normalisation containerd's importer applies to the RepoTags of a
// `docker save` tarball, so PrepareImage and Start find imported images by
// the short name they were built with.
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image ref %q: %v: %w", ref, err, ports.ErrInvalid)
	}
	return named.String(), nil
}

// PrepareImage makes image present and unpacked into the snapshotter. A
// missing image is pulled only when Config.PullMissing is set; otherwise it
// fails at once. Errors: ports.ErrInvalid for an unparsable ref,
// ports.ErrImageUnavailable, ports.ErrUnavailable.
func (d *Driver) PrepareImage(ctx context.Context, image string) error {
	_, err := d.image(ctx, image)
	return err
}

// image returns the unpacked image named by ref, pulling it if allowed.
func (d *Driver) image(ctx context.Context, ref string) (client.Image, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := d.client.GetImage(ctx, name)
	switch {
	case errdefs.IsNotFound(err) && d.cfg.PullMissing:
		return d.pull(ctx, name)
	case errdefs.IsNotFound(err):
		return nil, fmt.Errorf("image %s is not present: %w", name, ports.ErrImageUnavailable)
	case err != nil:
		return nil, fmt.Errorf("image %s: %w", name, translate(err))
	}
	unpacked, err := img.IsUnpacked(ctx, d.cfg.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, translate(err))
	}
	if !unpacked {
		if err := img.Unpack(ctx, d.cfg.Snapshotter); err != nil {
			if errdefs.IsNotFound(err) {
				// Content of the image was garbage collected or never fetched.
				return nil, fmt.Errorf("unpack %s: %w: %w", name, ports.ErrImageUnavailable, err)
			}
			return nil, fmt.Errorf("unpack %s: %w", name, translate(err))
		}
	}
	return img, nil
}

// ImportImage imports a `docker save` (or OCI layout) tarball into the
// driver's namespace, unpacks every image it names and returns their names
// as containerd stores them (see NormalizeRef). Errors: ports.ErrInvalid
// for an unreadable tarball, ports.ErrUnavailable.
func (d *Driver) ImportImage(ctx context.Context, tarballPath string) (names []string, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("import %s: %w", tarballPath, err)
		}
	}()
	f, err := os.Open(tarballPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	}
	defer f.Close()
	imgs, err := d.client.Import(ctx, f)
	if err != nil {
		return nil, translate(err)
	}
	for _, meta := range imgs {
		img := client.NewImage(d.client, meta)
		if err := img.Unpack(ctx, d.cfg.Snapshotter); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", meta.Name, translate(err))
		}
		names = append(names, meta.Name)
	}
	return names, nil
}

// translate maps a containerd client error onto the port sentinels, keeping
// the original in the chain.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ports.ErrNotFound), errors.Is(err, ports.ErrUnavailable),
		errors.Is(err, ports.ErrImageUnavailable), errors.Is(err, ports.ErrInvalid):
		return err
	case errdefs.IsNotFound(err):
		return fmt.Errorf("%w: %w", ports.ErrNotFound, err)
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	case errdefs.IsInvalidArgument(err):
		return fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	}
	return err
}

// isUnavailable reports whether err says the daemon could not be reached.
func isUnavailable(err error) bool {
	if errdefs.IsUnavailable(err) {
		return true
	}
	// A missing or refusing socket surfaces as a raw gRPC status.
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unavailable
}

func runcRoot(stateDir string) string { return filepath.Join(stateDir, "runc") }

func logDir(stateDir string) string { return filepath.Join(stateDir, "logs") }
