package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// cpuPeriod is the CFS period, in microseconds, NanoCPUs are scaled to.
const cpuPeriod = 100_000

// cleanupTimeout bounds the removal of a half-created container, which runs
// even when the caller's context has been cancelled.
const cleanupTimeout = 30 * time.Second

// Start creates and starts the container spec.Name on the host network with
// a freshly allocated loopback port in PORT, and returns it running. A
// container of that name whose task runs is returned as is; one without a
// running task is deleted and created anew; either only when
// ports.CheckOwner accepts its labels, else Start fails with
// ports.ErrConflict and leaves it alone. Whatever Start created is
// removed again when a later step fails. Errors: ports.ErrConflict, ports.ErrInvalid,
// ports.ErrImageUnavailable, ports.ErrUnavailable, or any other error when
// the container could not be created or started.
func (d *Driver) Start(ctx context.Context, spec ports.ContainerSpec) (_ ports.Container, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}()
	if err := identifiers.Validate(spec.Name); err != nil {
		return ports.Container{}, fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	}
	if spec.Image == "" {
		return ports.Container{}, fmt.Errorf("image is required: %w", ports.ErrInvalid)
	}
	if existing, err := d.client.LoadContainer(ctx, spec.Name); err == nil {
		c, err := d.inspect(ctx, existing, false)
		if err != nil {
			return ports.Container{}, err
		}
		if err := ports.CheckOwner(spec, c.Labels); err != nil {
			return ports.Container{}, err
		}
		if c.State == ports.StateRunning {
			return c, nil
		}
		if err := d.remove(ctx, existing); err != nil {
			return ports.Container{}, fmt.Errorf("remove stale container: %w", err)
		}
	} else if !errdefs.IsNotFound(err) {
		return ports.Container{}, translate(err)
	}

	img, err := d.image(ctx, spec.Image)
	if err != nil {
		return ports.Container{}, err
	}
	hostIP := spec.HostIP
	if hostIP == "" {
		hostIP = d.cfg.HostIP
	}
	port, err := d.allocatePort(hostIP)
	if err != nil {
		return ports.Container{}, err
	}
	defer func() {
		if err != nil {
			d.releasePort(port)
		}
	}()

	logPath := filepath.Join(logDir(d.cfg.StateDir), spec.Name+".log")
	labels := map[string]string{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	labels[ports.LabelManaged] = "true"
	labels[LabelPort] = strconv.Itoa(port)
	labels[LabelHostIP] = hostIP
	labels[LabelLogPath] = logPath
	labels[LabelImage] = spec.Image

	opts, err := specOpts(img, spec, port)
	if err != nil {
		return ports.Container{}, err
	}
	ctr, err := d.client.NewContainer(ctx, spec.Name,
		client.WithImage(img),
		client.WithSnapshotter(d.cfg.Snapshotter),
		client.WithNewSnapshot(spec.Name, img),
		client.WithRuntime(runtimeName, &options.Options{Root: runcRoot(d.cfg.StateDir)}),
		client.WithContainerLabels(labels),
		client.WithNewSpec(opts...),
	)
	if errdefs.IsAlreadyExists(err) {
		// Another start of the same name won the race; its snapshot is not ours.
		return ports.Container{}, fmt.Errorf("create: %w: %w", ports.ErrConflict, err)
	}
	if err != nil {
		return ports.Container{}, errors.Join(fmt.Errorf("create: %w", translate(err)), d.removeSnapshot(ctx, spec.Name))
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			if rerr := d.remove(cctx, ctr); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove after failed start: %w", rerr))
			}
		}
	}()

	task, err := ctr.NewTask(ctx, cio.LogFile(logPath))
	if err != nil {
		return ports.Container{}, fmt.Errorf("create task: %w", translate(err))
	}
	if err := task.Start(ctx); err != nil {
		return ports.Container{}, fmt.Errorf("start task: %w", translate(err))
	}
	started := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := ctr.SetLabels(ctx, map[string]string{LabelStartedAt: started}); err != nil {
		return ports.Container{}, fmt.Errorf("label: %w", translate(err))
	}
	c, err := d.inspect(ctx, ctr, true)
	if err != nil {
		return ports.Container{}, err
	}
	if c.State != ports.StateRunning {
		return ports.Container{}, fmt.Errorf("engine exited at start-up with code %d", c.ExitCode)
	}
	return c, nil
}

// specOpts builds the OCI spec of one engine container: the image's
// config, host network, the engine's environment and the hardening of
// SPEC §5 and §11 (spec.User, a read-only root with a tmpfs /tmp).
// Errors: ports.ErrInvalid for a user that is not numeric uid:gid.
func specOpts(img client.Image, spec ports.ContainerSpec, port int) ([]oci.SpecOpts, error) {
	env := make([]string, 0, len(spec.Env)+1)
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "PORT" {
			env = append(env, k+"="+spec.Env[k])
		}
	}
	env = append(env, "PORT="+strconv.Itoa(port))
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithEnv(env),
		oci.WithHostNamespace(specs.NetworkNamespace),
		oci.WithHostname(hostname(spec.Name)),
		oci.WithCapabilities([]string{}),
		withNoAmbientCapabilities,
		oci.WithNoNewPrivileges,
		seccomp.WithDefaultProfile(),
	}
	if l := spec.Limits.MemoryBytes; l > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(l)), withMemorySwap(l))
	}
	if n := spec.Limits.NanoCPUs; n > 0 {
		quota := n * cpuPeriod / 1e9
		if quota < 1000 {
			quota = 1000 // the kernel's minimum quota is 1ms
		}
		opts = append(opts, oci.WithCPUCFS(quota, cpuPeriod))
	}
	if p := spec.Limits.PidsLimit; p > 0 {
		opts = append(opts, oci.WithPidsLimit(p))
	}
	if spec.User != "" {
		uid, gid, err := core.ParseEngineUser(spec.User)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ports.ErrInvalid, err)
		}
		opts = append(opts, withUser(uid, gid))
	}
	if spec.ReadOnlyRootFS {
		opts = append(opts, oci.WithRootFSReadonly(), oci.WithMounts([]specs.Mount{{
			Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "mode=1777", "size=65536k"},
		}}))
	}
	return opts, nil
}

// hostname is the container's hostname: its name, cut to the 63 bytes the
// kernel accepts (a name may have 76).
func hostname(name string) string {
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:63], "._-")
}

// withUser runs the engine as uid:gid without the supplementary groups the
// image's user may have brought (root's among them).
func withUser(uid, gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.User = specs.User{UID: uid, GID: gid}
		return nil
	}
}

// withNoAmbientCapabilities clears the ambient set WithCapabilities keeps.
func withNoAmbientCapabilities(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process != nil && s.Process.Capabilities != nil {
		s.Process.Capabilities.Ambient = nil
	}
	return nil
}

// withMemorySwap sets swap to the memory limit, so the limit cannot be
// exceeded by swapping.
func withMemorySwap(limit int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux != nil && s.Linux.Resources != nil && s.Linux.Resources.Memory != nil {
			s.Linux.Resources.Memory.Swap = &limit
		}
		return nil
	}
}

// allocatePort returns a port that is free on hostIP now and that this
// instance has not handed out within portHold to a container it still
// knows of (an engine may bind its port a while after start). Lapsed
// reservations are dropped on the way, so the map stays small.
func (d *Driver) allocatePort(hostIP string) (int, error) {
	for range 16 {
		l, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
		if err != nil {
			return 0, fmt.Errorf("allocate port on %s: %w", hostIP, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		d.mu.Lock()
		now := d.now()
		for p, at := range d.ports {
			if now.Sub(at) >= portHold {
				delete(d.ports, p)
			}
		}
		_, taken := d.ports[port]
		if !taken {
			d.ports[port] = now
		}
		d.mu.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("allocate port on %s: no free port found", hostIP)
}

// releasePort forgets a port whose container is gone or was never created.
func (d *Driver) releasePort(port int) {
	d.mu.Lock()
	delete(d.ports, port)
	d.mu.Unlock()
}

// removeSnapshot removes the snapshot key a failed NewContainer may have
// prepared; a missing snapshot is not an error.
func (d *Driver) removeSnapshot(ctx context.Context, key string) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := d.client.SnapshotService(d.cfg.Snapshotter).Remove(cctx, key)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove snapshot %s: %w", key, translate(err))
	}
	return nil
}
