package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

// Container labels every driver sets on the containers rtmanager creates.
const (
	LabelManaged    = "rtmanager.managed"
	LabelGameID     = "rtmanager.game_id"
	LabelGeneration = "rtmanager.generation"
	LabelImageRef   = "rtmanager.image_ref"
	// LabelScope separates rtmanager deployments sharing one runtime: an
	// instance manages only containers of its scope (RTMANAGER_SCOPE);
	// a container without the label belongs to the scope "default".
	LabelScope = "rtmanager.scope"
)

// DefaultScope is the scope of containers that carry no LabelScope.
const DefaultScope = core.DefaultScope

// ownerLabels are the labels that say which deployment, game, generation
// and image a container belongs to.
var ownerLabels = []string{LabelScope, LabelGameID, LabelGeneration, LabelImageRef}

// CheckOwner returns nil when existing, the labels of a container named
// like spec, says the container is rtmanager's and belongs to the same
// scope, game, generation and image as spec (a missing or empty scope is
// DefaultScope on either side). Otherwise it returns an error wrapping
// ErrConflict: Start must then leave that container untouched (SPEC §11).
func CheckOwner(spec ContainerSpec, existing map[string]string) error {
	if existing[LabelManaged] != "true" {
		return fmt.Errorf("%w: name %s is taken by a container rtmanager does not manage", ErrConflict, spec.Name)
	}
	for _, k := range ownerLabels {
		want, got := spec.Labels[k], existing[k]
		if k == LabelScope {
			want, got = ScopeOf(spec.Labels), ScopeOf(existing)
		}
		if want != got {
			return fmt.Errorf("%w: name %s is taken by a container with %s=%q, not %q", ErrConflict, spec.Name, k, got, want)
		}
	}
	return nil
}

// ScopeOf returns the scope container labels name: LabelScope, or
// DefaultScope when it is missing or empty.
func ScopeOf(labels map[string]string) string {
	if s := labels[LabelScope]; s != "" {
		return s
	}
	return DefaultScope
}

// Limits are the resource limits of one container; zero means unlimited.
type Limits struct {
	MemoryBytes int64
	// NanoCPUs is CPU quota in billionths of a CPU (1e9 = one CPU).
	NanoCPUs  int64
	PidsLimit int64
}

// ContainerSpec is what a driver needs to create and start one container.
type ContainerSpec struct {
	// Name is unique per container: core.ContainerName, i.e.
	// rtm-[<scope>-]<game_id>-<generation>, a valid containerd identifier
	// of at most 76 bytes.
	Name  string
	Image string
	// Env is passed to the engine as is; the driver adds PORT.
	Env    map[string]string
	Labels map[string]string
	// Port is the container port the engine listens on (RTMANAGER_ENGINE_PORT).
	// Drivers that publish ports pass it in PORT and publish it on HostIP;
	// drivers sharing the host network allocate a free loopback port instead.
	Port   int
	HostIP string
	Limits Limits
	// User is the numeric uid:gid the engine runs as (RTMANAGER_ENGINE_USER);
	// empty keeps the image's user.
	User string
	// ReadOnlyRootFS mounts the root filesystem read-only with a tmpfs at
	// /tmp (RTMANAGER_READ_ONLY_ROOTFS).
	ReadOnlyRootFS bool
}

// ContainerState is a driver-neutral container state.
type ContainerState string

// Container states.
const (
	StateCreated ContainerState = "created"
	StateRunning ContainerState = "running"
	StateExited  ContainerState = "exited"
)

// Container is what a driver knows of one container.
type Container struct {
	// ID is the driver's full id.
	ID     string
	Name   string
	Image  string
	Labels map[string]string
	State  ContainerState
	// ExitCode is meaningful when State is exited; 137 after SIGKILL, -1
	// when the driver cannot know it (e.g. a process it did not spawn).
	ExitCode  int
	OOMKilled bool
	// Endpoint is host:port where the engine answers, on loopback unless
	// the driver declares RemoteEndpoints; empty when the container is not
	// running.
	Endpoint   string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// EventType names a driver event.
type EventType string

// Driver event types.
const (
	EventStarted EventType = "started"
	EventExited  EventType = "exited"
	EventOOM     EventType = "oom"
	// EventRemoved: the container was deleted (by anyone).
	EventRemoved EventType = "removed"
	// EventHealth carries a runtime-native health status in Health.
	EventHealth EventType = "health"
)

// Event is one container event from a driver's event stream.
type Event struct {
	Type        EventType
	ContainerID string
	// Labels are the container's labels when the driver knows them.
	Labels   map[string]string
	ExitCode int
	Health   string
	At       time.Time
}

// Capabilities describe a driver.
type Capabilities struct {
	// Name is the driver kind: docker, containerd, or the plugin's name.
	Name string
	// Version is the runtime's version (daemon or plugin).
	Version string
	// Fingerprint identifies the runtime endpoint, e.g. a daemon id, so
	// several instances can tell they share one.
	Fingerprint string
	// PublishesPorts: the driver publishes Spec.Port on HostIP (Docker);
	// false means it allocates a loopback port and passes it in PORT.
	PublishesPorts bool
	// OOMEvents: the driver reports EventOOM.
	OOMEvents bool
	// RemoteEndpoints: the driver's endpoints need not be on loopback (a
	// cluster driver returns pod or node addresses); rtmanager then probes
	// the endpoint the driver returned wherever it is.
	RemoteEndpoints bool
	// Logs: the driver implements LogSource.
	Logs bool
	// LogTimes: the driver's logs keep when each line was written, so
	// LogOptions.Since and Timestamps work; without it they are
	// ErrUnsupported.
	LogTimes bool
	// Stats: the driver implements StatsSource.
	Stats bool
}

// RuntimeDriver runs game engine containers. Every method that names a
// container by id returns ErrNotFound (wrapped) when it does not exist, and
// ErrUnavailable when the runtime cannot be reached.
type RuntimeDriver interface {
	// PrepareImage makes image present locally, pulling it if it is
	// missing. Errors: ErrImageUnavailable when it is missing and cannot be
	// pulled, ErrUnavailable.
	PrepareImage(ctx context.Context, image string) error
	// Start creates and starts a container from spec and returns it running,
	// with Name and Image equal to the spec's. It is idempotent by
	// spec.Name: a container of that name that already runs is returned as
	// is, and one that does not run is replaced, but only when CheckOwner
	// accepts its labels; otherwise Start returns ErrConflict and leaves it
	// untouched. Errors: ErrConflict, ErrImageUnavailable, ErrInvalid (e.g.
	// an empty name or image), ErrUnavailable; any other error means the
	// container could not be created or started, and the driver has removed
	// what it created.
	Start(ctx context.Context, spec ContainerSpec) (Container, error)
	// Stop sends SIGTERM, waits up to timeout, then SIGKILLs (the exit code
	// is then 137), and returns once the container has exited. Stopping an
	// exited container is not an error. Errors: ErrNotFound, ErrUnavailable.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Remove deletes the container, killing it first if it runs. Removing a
	// container that does not exist is not an error. Errors: ErrUnavailable.
	Remove(ctx context.Context, id string) error
	// Inspect returns the container. Errors: ErrNotFound, ErrUnavailable.
	Inspect(ctx context.Context, id string) (Container, error)
	// List returns the containers carrying every given label (key=value),
	// running or not, with ID, Name, Labels, State, CreatedAt, Endpoint
	// (when running) and ExitCode/OOMKilled (when exited); StartedAt and
	// FinishedAt may be zero, as a driver may answer from a cheap listing.
	// Errors: ErrUnavailable.
	List(ctx context.Context, labels map[string]string) ([]Container, error)
	// Events streams container events of managed containers until ctx ends,
	// then closes the channel. The driver re-subscribes by itself when its
	// runtime restarts. Errors (only at subscription): ErrUnavailable.
	Events(ctx context.Context) (<-chan Event, error)
	// Capabilities describes the driver and checks the runtime is
	// reachable. Errors: ErrUnavailable.
	Capabilities(ctx context.Context) (Capabilities, error)
}
