package driverplugin

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	driverv1 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v1"
	"github.com/galaxy-game/rtmanager/ports"
)

var stateToWire = map[ports.ContainerState]driverv1.ContainerState{
	ports.StateCreated: driverv1.ContainerState_CONTAINER_STATE_CREATED,
	ports.StateRunning: driverv1.ContainerState_CONTAINER_STATE_RUNNING,
	ports.StateExited:  driverv1.ContainerState_CONTAINER_STATE_EXITED,
}

var eventToWire = map[ports.EventType]driverv1.EventType{
	ports.EventStarted: driverv1.EventType_EVENT_TYPE_STARTED,
	ports.EventExited:  driverv1.EventType_EVENT_TYPE_EXITED,
	ports.EventOOM:     driverv1.EventType_EVENT_TYPE_OOM,
	ports.EventRemoved: driverv1.EventType_EVENT_TYPE_REMOVED,
	ports.EventHealth:  driverv1.EventType_EVENT_TYPE_HEALTH,
}

var (
	stateFromWire = invert(stateToWire)
	eventFromWire = invert(eventToWire)
)

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

func specToWire(s ports.ContainerSpec) *driverv1.ContainerSpec {
	return &driverv1.ContainerSpec{
		Name: s.Name, Image: s.Image, Env: s.Env, Labels: s.Labels,
		Port: int32(s.Port), HostIp: s.HostIP,
		Limits: &driverv1.Limits{
			MemoryBytes: s.Limits.MemoryBytes,
			NanoCpus:    s.Limits.NanoCPUs,
			PidsLimit:   s.Limits.PidsLimit,
		},
		User: s.User, ReadOnlyRootFs: s.ReadOnlyRootFS,
	}
}

func specFromWire(s *driverv1.ContainerSpec) ports.ContainerSpec {
	return ports.ContainerSpec{
		Name: s.GetName(), Image: s.GetImage(), Env: s.GetEnv(), Labels: s.GetLabels(),
		Port: int(s.GetPort()), HostIP: s.GetHostIp(),
		Limits: ports.Limits{
			MemoryBytes: s.GetLimits().GetMemoryBytes(),
			NanoCPUs:    s.GetLimits().GetNanoCpus(),
			PidsLimit:   s.GetLimits().GetPidsLimit(),
		},
		User: s.GetUser(), ReadOnlyRootFS: s.GetReadOnlyRootFs(),
	}
}

func containerToWire(c ports.Container) *driverv1.Container {
	return &driverv1.Container{
		Id: c.ID, Name: c.Name, Image: c.Image, Labels: c.Labels,
		State:    stateToWire[c.State],
		ExitCode: int32(c.ExitCode), OomKilled: c.OOMKilled, Endpoint: c.Endpoint,
		CreatedAt: timeToWire(c.CreatedAt), StartedAt: timeToWire(c.StartedAt),
		FinishedAt: timeToWire(c.FinishedAt),
	}
}

func containerFromWire(c *driverv1.Container) ports.Container {
	return ports.Container{
		ID: c.GetId(), Name: c.GetName(), Image: c.GetImage(), Labels: c.GetLabels(),
		State:    stateFromWire[c.GetState()],
		ExitCode: int(c.GetExitCode()), OOMKilled: c.GetOomKilled(), Endpoint: c.GetEndpoint(),
		CreatedAt: timeFromWire(c.GetCreatedAt()), StartedAt: timeFromWire(c.GetStartedAt()),
		FinishedAt: timeFromWire(c.GetFinishedAt()),
	}
}

func eventToWireMsg(e ports.Event) *driverv1.Event {
	return &driverv1.Event{
		Type: eventToWire[e.Type], ContainerId: e.ContainerID, Labels: e.Labels,
		ExitCode: int32(e.ExitCode), Health: e.Health, At: timeToWire(e.At),
	}
}

func eventFromWireMsg(e *driverv1.Event) ports.Event {
	return ports.Event{
		Type: eventFromWire[e.GetType()], ContainerID: e.GetContainerId(), Labels: e.GetLabels(),
		ExitCode: int(e.GetExitCode()), Health: e.GetHealth(), At: timeFromWire(e.GetAt()),
	}
}

func capsToWire(c ports.Capabilities) *driverv1.CapabilitiesResponse {
	return &driverv1.CapabilitiesResponse{
		Name: c.Name, Version: c.Version, Fingerprint: c.Fingerprint,
		PublishesPorts: c.PublishesPorts, OomEvents: c.OOMEvents, RemoteEndpoints: c.RemoteEndpoints,
	}
}

func capsFromWire(c *driverv1.CapabilitiesResponse) ports.Capabilities {
	return ports.Capabilities{
		Name: c.GetName(), Version: c.GetVersion(), Fingerprint: c.GetFingerprint(),
		PublishesPorts: c.GetPublishesPorts(), OOMEvents: c.GetOomEvents(), RemoteEndpoints: c.GetRemoteEndpoints(),
	}
}

// timeToWire keeps the zero time as an absent timestamp.
func timeToWire(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromWire(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
