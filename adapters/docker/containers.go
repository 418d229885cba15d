package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/internal/logrotate"
	"github.com/galaxy-game/rtmanager/ports"
)

// cleanupTimeout bounds removing what a failed Start created, on a context
// detached from the caller's cancellation so no orphan is left behind.
const cleanupTimeout = 30 * time.Second

// pollInterval paces waits for a state the daemon reaches on its own.
const pollInterval = 50 * time.Millisecond

// Start creates and starts a container for spec, or returns the running
// container already named spec.Name. A non-running container of that name
// is removed and recreated. Either only when ports.CheckOwner accepts its
// labels: otherwise it is left alone and Start fails with
// ports.ErrConflict. A missing image is pulled once.
//
// Start creates first and looks at the container of that name only when
// Docker answers that the name is taken, so a start of a new game costs
// create, start and one inspect.
func (d *Driver) Start(ctx context.Context, spec ports.ContainerSpec) (c ports.Container, err error) {
	defer wrap(&err, "docker: start %s", spec.Name)
	if spec.Name == "" || spec.Image == "" || spec.Port <= 0 || spec.Port > math.MaxUint16 {
		return c, fmt.Errorf("%w: spec needs a name, an image and a port in 1..65535", ports.ErrInvalid)
	}
	hostIP := d.hostIP
	if spec.HostIP != "" {
		if hostIP, err = netip.ParseAddr(spec.HostIP); err != nil {
			return c, fmt.Errorf("%w: host ip: %v", ports.ErrInvalid, err)
		}
	}
	pulled, netChecked, raced, taken := false, false, 0, 0
	for {
		netID, err := d.networkID(ctx)
		if err != nil {
			return c, err
		}
		created, err := d.cli.ContainerCreate(ctx, d.createOptions(spec, hostIP, netID))
		switch {
		case err == nil:
			c, err := d.startCreated(ctx, created.ID)
			if errors.Is(err, errNetworkRace) && raced < maxNetworkRaces {
				// The container was attached to a twin of the engine
				// network from another instance's create race, and
				// startCreated removed it: with its endpoint gone the
				// twin can be cleared (ensureNetwork), so look again.
				raced++
				d.forgetNetwork()
				continue
			}
			return c, err
		case cerrdefs.IsConflict(err) && taken < maxNameTaken:
			// The name is taken: adopt the container if it runs, remove
			// it if it does not (both only when it is ours), or create
			// again when it vanished meanwhile.
			taken++
			if c, done, err := d.takenName(ctx, spec); done || err != nil {
				return c, err
			}
			continue
		case cerrdefs.IsNotFound(err) && !netChecked:
			// The image or the network is missing: look for the network
			// again first (someone may have deleted it).
			d.forgetNetwork()
			netChecked = true
			continue
		case cerrdefs.IsNotFound(err) && !pulled:
			// The image is missing: pull it once, then create again.
			if err := d.prepare(ctx, spec.Image); err != nil {
				return c, err
			}
			pulled = true
			continue
		case cerrdefs.IsNotFound(err):
			return c, fmt.Errorf("%w: %w", ports.ErrImageUnavailable, err)
		default:
			return c, translate(err)
		}
	}
}

// maxNameTaken bounds Start's creations answered by a name conflict: the
// container of that name is removed or adopted after each, so more mean
// other starts of the same name keep racing this one.
const maxNameTaken = 3

// takenName handles a create that found spec.Name taken. done is true with
// the container when it runs and is ours; an error when it is not ours
// (ports.ErrConflict) or cannot be inspected or removed; neither when it
// was removed (by this call or meanwhile), so the caller creates again.
func (d *Driver) takenName(ctx context.Context, spec ports.ContainerSpec) (c ports.Container, done bool, err error) {
	existing, err := d.cli.ContainerInspect(ctx, spec.Name, client.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return c, false, nil // removed since the create
	case err != nil:
		return c, false, translate(err)
	}
	if owner := ports.CheckOwner(spec, existing.Container.Config.Labels); owner != nil {
		return c, false, fmt.Errorf("container %s: %w", existing.Container.ID, owner)
	}
	if existing.Container.State != nil && existing.Container.State.Running {
		return d.toContainer(existing.Container), true, nil
	}
	return c, false, d.remove(ctx, existing.Container.ID)
}

// startCreated starts the container id and returns it running; on any
// failure it removes the container.
func (d *Driver) startCreated(ctx context.Context, id string) (ports.Container, error) {
	fail := func(err error) (ports.Container, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := d.remove(cctx, id); rerr != nil {
			return ports.Container{}, fmt.Errorf("%w (and removing %s failed: %v)", err, id, rerr)
		}
		return ports.Container{}, err
	}
	if err := d.containerStart(ctx, id); err != nil {
		return fail(startErr(err))
	}
	got, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fail(startErr(err))
	}
	c := d.toContainer(got.Container)
	if c.State != ports.StateRunning {
		return fail(fmt.Errorf("container %s exited during start-up with code %d (oom %v)", id, c.ExitCode, c.OOMKilled))
	}
	if c.Endpoint == "" {
		return fail(fmt.Errorf("container %s runs without a published port", id))
	}
	return c, nil
}

// startErr classifies a failure to start a container Start created. Only
// an unreachable daemon (ErrUnavailable) or the caller's cancellation keeps
// its meaning; anything else means the container could not be started,
// which the port reports without a sentinel (start_failed). Docker answers
// a missing entrypoint with 400 (InvalidParameter) and a container removed
// meanwhile with 404: translated, they would become ErrInvalid and
// ErrNotFound, i.e. invalid_request and not_found for a failed start.
func startErr(err error) error {
	if t := translate(err); errors.Is(t, ports.ErrUnavailable) || errors.Is(err, context.Canceled) {
		return t
	}
	if isNetworkRace(err) {
		return fmt.Errorf("start container: %w: %s", errNetworkRace, err)
	}
	return fmt.Errorf("start container: %s", err)
}

// createOptions renders spec with rtmanager's conventions and hardening.
func (d *Driver) createOptions(spec ports.ContainerSpec, hostIP netip.Addr, netID string) client.ContainerCreateOptions {
	port, _ := network.PortFrom(uint16(spec.Port), network.TCP)
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ports.LabelManaged] = "true"
	env := make([]string, 0, len(spec.Env)+1)
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		if k != "PORT" {
			env = append(env, k+"="+spec.Env[k])
		}
	}
	env = append(env, "PORT="+strconv.Itoa(spec.Port))
	init := d.cfg.Init
	res := container.Resources{
		Memory:   spec.Limits.MemoryBytes,
		NanoCPUs: spec.Limits.NanoCPUs,
	}
	if spec.Limits.MemoryBytes > 0 {
		res.MemorySwap = spec.Limits.MemoryBytes // no swap beyond the limit
	}
	if spec.Limits.PidsLimit > 0 {
		pids := spec.Limits.PidsLimit
		res.PidsLimit = &pids
	}
	readOnly := spec.ReadOnlyRootFS || d.cfg.ReadonlyRootfs
	var tmpfs map[string]string
	if readOnly {
		tmpfs = map[string]string{"/tmp": tmpfsOptions}
	}
	return client.ContainerCreateOptions{
		Name: spec.Name,
		Config: &container.Config{
			Image:        spec.Image,
			Env:          env,
			Labels:       labels,
			User:         spec.User,
			ExposedPorts: network.PortSet{port: {}},
		},
		HostConfig: &container.HostConfig{
			NetworkMode:    container.NetworkMode(netID),
			PortBindings:   network.PortMap{port: {{HostIP: hostIP}}}, // no HostPort: Docker allocates one
			RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			Privileged:     false,
			ReadonlyRootfs: readOnly,
			Tmpfs:          tmpfs,
			Init:           &init,
			Resources:      res,
			LogConfig: container.LogConfig{Type: "json-file",
				Config: map[string]string{"max-size": logMaxSize, "max-file": logMaxFiles}},
		},
	}
}

// Engine log rotation (SPEC §11): json-file, 10 MB per file, 3 files,
// the limits the other drivers apply through logrotate.
var (
	logMaxSize  = strconv.Itoa(logrotate.MaxBytes>>20) + "m"
	logMaxFiles = strconv.Itoa(logrotate.Files)
)

// tmpfsOptions mount the writable /tmp of a read-only root filesystem.
const tmpfsOptions = "rw,nosuid,nodev,size=64m"

// Stop asks Docker to stop id: SIGTERM, SIGKILL after timeout (rounded up
// to whole seconds, the API's unit), and returns once it has exited. The
// daemon answers the stop request only after the container has stopped
// (it waits for the exit itself, also after the SIGKILL), so no inspect
// follows.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) (err error) {
	defer wrap(&err, "docker: stop %s", id)
	secs := int(math.Ceil(max(timeout, 0).Seconds()))
	_, err = d.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	return translate(err)
}

// Remove force-removes id (killing it if it runs); a missing container is
// not an error.
func (d *Driver) Remove(ctx context.Context, id string) (err error) {
	defer wrap(&err, "docker: remove %s", id)
	return d.remove(ctx, id)
}

func (d *Driver) remove(ctx context.Context, id string) error {
	_, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case !cerrdefs.IsConflict(err):
		return translate(err)
	}
	// "Removal already in progress": wait for whoever removes it.
	for {
		_, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return translate(err)
		}
		select {
		case <-ctx.Done():
			return translate(ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// Inspect returns the container id (a full or short id, or a name). An
// engine that died of SIGKILL is OOMKilled also when only Docker's event
// log says so (oomLogged).
func (d *Driver) Inspect(ctx context.Context, id string) (c ports.Container, err error) {
	defer wrap(&err, "docker: inspect %s", id)
	got, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return c, translate(err)
	}
	c = d.toContainer(got.Container)
	c.OOMKilled = d.oomLogged(ctx, c)
	return c, nil
}

// List returns the containers carrying every label, inspecting each so the
// answer carries exit codes and endpoints.
func (d *Driver) List(ctx context.Context, labels map[string]string) (cs []ports.Container, err error) {
	defer wrap(&err, "docker: list %v", labels)
	f := make(client.Filters)
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, translate(err)
	}
	cs = make([]ports.Container, 0, len(res.Items))
	for _, item := range res.Items {
		// The listing says enough about running and created containers;
		// only exited ones need an inspect, for the exit code and OOM flag.
		// A reconcile pass thus costs one API call, not one per container.
		if c, ok := d.fromSummary(item); ok {
			cs = append(cs, c)
			continue
		}
		got, err := d.cli.ContainerInspect(ctx, item.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, translate(err)
		}
		cs = append(cs, d.toContainer(got.Container))
	}
	return cs, nil
}

// fromSummary converts a listed container that is running or created; ok
// is false for any other state, which needs an inspect. StartedAt and
// FinishedAt are left zero (the listing does not carry them).
func (d *Driver) fromSummary(in container.Summary) (ports.Container, bool) {
	c := ports.Container{ID: in.ID, Image: in.Image, Labels: in.Labels, CreatedAt: time.Unix(in.Created, 0).UTC()}
	if len(in.Names) > 0 {
		c.Name = strings.TrimPrefix(in.Names[0], "/")
	}
	switch in.State {
	case container.StateCreated:
		c.State = ports.StateCreated
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		c.State = ports.StateRunning
		pm := network.PortMap{}
		for _, p := range in.Ports {
			if p.PublicPort == 0 || p.Type != "tcp" {
				continue
			}
			port, err := network.ParsePort(fmt.Sprintf("%d/tcp", p.PrivatePort))
			if err != nil {
				continue
			}
			pm[port] = append(pm[port], network.PortBinding{HostIP: p.IP, HostPort: strconv.Itoa(int(p.PublicPort))})
		}
		c.Endpoint = d.endpoint(pm)
	default:
		return ports.Container{}, false
	}
	return c, true
}

// toContainer converts Docker's view of a container.
func (d *Driver) toContainer(in container.InspectResponse) ports.Container {
	c := ports.Container{
		ID:        in.ID,
		Name:      strings.TrimPrefix(in.Name, "/"),
		CreatedAt: parseTime(in.Created),
	}
	if in.Config != nil {
		c.Image = in.Config.Image
		c.Labels = in.Config.Labels
	}
	if s := in.State; s != nil {
		switch s.Status {
		case container.StateCreated:
			c.State = ports.StateCreated
		case container.StateRunning, container.StatePaused, container.StateRestarting:
			c.State = ports.StateRunning
		default: // exited, dead, removing
			c.State = ports.StateExited
		}
		c.ExitCode = s.ExitCode
		c.OOMKilled = s.OOMKilled
		c.StartedAt = parseTime(s.StartedAt)
		c.FinishedAt = parseTime(s.FinishedAt)
	}
	if c.State == ports.StateRunning && in.NetworkSettings != nil {
		c.Endpoint = d.endpoint(in.NetworkSettings.Ports)
	}
	return c
}

// endpoint returns host:port of the lowest published tcp port.
func (d *Driver) endpoint(pm network.PortMap) string {
	keys := slices.SortedFunc(maps.Keys(pm), func(a, b network.Port) int { return int(a.Num()) - int(b.Num()) })
	for _, p := range keys {
		if p.Proto() != network.TCP {
			continue
		}
		for _, b := range pm[p] {
			if b.HostPort == "" {
				continue
			}
			host := b.HostIP
			if !host.IsValid() || host.IsUnspecified() {
				host = d.hostIP
			}
			return net.JoinHostPort(host.String(), b.HostPort)
		}
	}
	return ""
}

// parseTime parses Docker's RFC 3339 times; Docker's "never" is the zero
// time, and so is anything unparsable.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
