package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// Version is the version of the process driver.
const Version = "1.0.0"

// Config configures a Driver.
type Config struct {
	// StateDir holds the container files, engine logs and the lock. It is
	// created if missing. Several drivers (in one process or many) may
	// share it: they then see one set of containers. Required.
	StateDir string
	// ImageDir resolves bare image names; empty allows only file:// refs.
	ImageDir string
	// AddressSpaceSlack is added to Limits.MemoryBytes to form RLIMIT_AS;
	// zero means 1 GiB.
	AddressSpaceSlack int64
	// PollInterval is how often engines that are not this process's
	// children are checked in /proc; zero means 100ms.
	PollInterval time.Duration
	// AdoptInterval is how often the driver looks for engines whose owning
	// driver process died, to watch them itself; zero means 1s.
	AdoptInterval time.Duration
	// Logger receives the driver's log lines; nil means slog.Default().
	Logger *slog.Logger
	// User is the numeric uid:gid engines run as when their spec names no
	// user (--user); empty keeps the plugin's own. Needs a root plugin.
	User string
	// CgroupRoot is a writable cgroup v2 directory (--cgroup-root); each
	// engine then runs in a child cgroup with memory.max, cpu.max and
	// pids.max from its limits, which is killed when the engine exits.
	CgroupRoot string
	// ImageRoot, when set, is the only directory file:// images may lie
	// under (--image-root).
	ImageRoot string
	// MaxOpenFiles is an engine's RLIMIT_NOFILE; zero means 4096.
	MaxOpenFiles uint64
}

// Driver runs engines as local processes. Its methods are safe for
// concurrent use.
type Driver struct {
	cfg  Config
	log  *slog.Logger
	lock *os.File
	self procStat // this process, the owner written into new records
	pid  int

	mu      sync.Mutex // with the flock: container files and watched
	watched map[string]*watch
	closed  chan struct{}
	once    sync.Once

	subMu   sync.Mutex
	subs    map[int]chan ports.Event
	nextSub int
}

// watch is an engine this driver instance watches: a child it waits for,
// or an adopted process it polls.
type watch struct {
	done chan struct{} // closed once the exit is recorded
}

var _ ports.RuntimeDriver = (*Driver)(nil)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// New opens the state dir and adopts the engines whose owning driver
// process is gone: live ones are watched, dead ones marked exited (code -1).
func New(cfg Config) (*Driver, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("process driver: StateDir is required")
	}
	if cfg.AddressSpaceSlack == 0 {
		cfg.AddressSpaceSlack = 1 << 30
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.AdoptInterval == 0 {
		cfg.AdoptInterval = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("process driver: state dir: %w", err)
	}
	cfg.StateDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("process driver: state dir: %w", err)
	}
	self, err := readStat(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("process driver: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("process driver: %w", err)
	}
	d := &Driver{
		cfg: cfg, log: log.With("driver", "process"), lock: lock, self: self, pid: os.Getpid(),
		watched: make(map[string]*watch), closed: make(chan struct{}),
		subs: make(map[int]chan ports.Event),
	}
	if err := d.checkIsolation(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("process driver: %w", err)
	}
	if err := d.adopt(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("process driver: recover %s: %w", dir, err)
	}
	go d.adoptLoop()
	go d.rotateLogs()
	return d, nil
}

// Close stops watching adopted engines, ends event subscriptions and
// releases the state dir. Engines keep running: another driver adopts them.
// Children of this process are still reaped and their exits recorded.
func (d *Driver) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

// PrepareImage implements ports.RuntimeDriver: the executable must exist
// and be executable.
func (d *Driver) PrepareImage(_ context.Context, image string) error {
	_, err := d.resolve(image)
	return err
}

// resolve maps an image reference to the path of its executable.
func (d *Driver) resolve(image string) (string, error) {
	var path string
	switch {
	case strings.HasPrefix(image, "file://"):
		path = strings.TrimPrefix(image, "file://")
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("image %q: file:// needs an absolute path: %w", image, ports.ErrInvalid)
		}
	case image == "" || strings.ContainsAny(image, `/\`) || image == "." || image == "..":
		return "", fmt.Errorf("image %q: want file:///abs/path or a bare name: %w", image, ports.ErrInvalid)
	case d.cfg.ImageDir == "":
		return "", fmt.Errorf("image %q: no image directory is configured: %w", image, ports.ErrImageUnavailable)
	default:
		path = filepath.Join(d.cfg.ImageDir, image)
	}
	if err := d.checkImagePath(image, path); err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("image %q: %w: %w", image, err, ports.ErrImageUnavailable)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("image %q: %s is not an executable file: %w", image, path, ports.ErrImageUnavailable)
	}
	return filepath.Clean(path), nil
}

// Start implements ports.RuntimeDriver. A running container of the same
// name is returned as is; an exited one of that name is removed and
// replaced; either only when ports.CheckOwner accepts its labels, else
// Start fails with ports.ErrConflict and leaves it alone.
func (d *Driver) Start(ctx context.Context, spec ports.ContainerSpec) (c ports.Container, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}()
	if !nameRE.MatchString(spec.Name) {
		return c, fmt.Errorf("bad container name %q: %w", spec.Name, ports.ErrInvalid)
	}
	path, err := d.resolve(spec.Image)
	if err != nil {
		return c, err
	}
	if err := ctx.Err(); err != nil {
		return c, err
	}
	spec.Labels = cloneMap(spec.Labels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[ports.LabelManaged] = "true" // as every driver does (SPEC §5)
	var started *record
	err = d.withLock(func() error {
		recs, err := d.scan()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Name != spec.Name {
				continue
			}
			if err := ports.CheckOwner(spec, r.Labels); err != nil {
				return err
			}
			if r.State == ports.StateRunning && alive(r.Pid, r.StartTicks) {
				c = r.container()
				return nil
			}
			// Exited, or exiting (its owner has not recorded the exit
			// yet; finish will not resurrect a deleted file): replace it.
			if err := d.deleteFiles(r.ID); err != nil {
				return err
			}
		}
		started, err = d.launch(spec, path)
		return err
	})
	if err != nil || started == nil {
		return c, err
	}
	d.log.Info("engine started", "id", started.ID, "name", spec.Name, "pid", started.Pid, "port", started.Port)
	d.emit(ports.Event{Type: ports.EventStarted, ContainerID: started.ID, Labels: cloneMap(started.Labels), At: started.StartedAt})
	return started.container(), nil
}

// Stop implements ports.RuntimeDriver.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	r, err := d.signal(id, syscall.SIGTERM)
	if err != nil || r == nil {
		return err
	}
	exited, err := d.waitExit(ctx, r, timeout)
	if err != nil || exited {
		return err
	}
	if _, err := d.signal(id, syscall.SIGKILL); err != nil {
		return err
	}
	_, err = d.waitExit(ctx, r, -1)
	return err
}

// Remove implements ports.RuntimeDriver.
func (d *Driver) Remove(ctx context.Context, id string) error {
	r, err := d.signal(id, syscall.SIGKILL)
	if errors.Is(err, ports.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r != nil {
		if _, err := d.waitExit(ctx, r, -1); err != nil {
			return err
		}
	}
	var gone *record
	err = d.withLock(func() error {
		r, err := d.load(id)
		if err != nil || r == nil {
			return err
		}
		gone = r
		return d.deleteFiles(id)
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if gone != nil {
		d.emit(ports.Event{Type: ports.EventRemoved, ContainerID: id, Labels: gone.Labels, At: time.Now().UTC()})
	}
	return nil
}

// Inspect implements ports.RuntimeDriver.
func (d *Driver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	r, err := d.load(id)
	if err == nil && r != nil {
		r, err = d.settle(ctx, r)
	}
	if err != nil {
		return ports.Container{}, fmt.Errorf("inspect %s: %w", id, err)
	}
	if r == nil {
		return ports.Container{}, fmt.Errorf("inspect %s: %w", id, ports.ErrNotFound)
	}
	return r.container(), nil
}

// List implements ports.RuntimeDriver; containers come oldest first.
func (d *Driver) List(ctx context.Context, labels map[string]string) ([]ports.Container, error) {
	recs, err := d.scan()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	out := []ports.Container{}
next:
	for _, r := range recs {
		for k, v := range labels {
			if got, ok := r.Labels[k]; !ok || got != v {
				continue next
			}
		}
		if r, err = d.settle(ctx, r); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		if r != nil {
			out = append(out, r.container())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Capabilities implements ports.RuntimeDriver.
func (d *Driver) Capabilities(context.Context) (ports.Capabilities, error) {
	host, _ := os.Hostname()
	return ports.Capabilities{
		Name: "process", Version: Version,
		Fingerprint:    "process:" + host + ":" + d.cfg.StateDir,
		PublishesPorts: false, OOMEvents: false,
		Logs: true, Stats: true,
	}, nil
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the engine binds it; the engine then fails to start, which
// Start's caller sees as an exited container.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
