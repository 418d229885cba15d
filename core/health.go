package core

import "time"

// HealthEventType names a health event.
type HealthEventType string

// Health event types of SPEC §2.
const (
	EventContainerStarted     HealthEventType = "container_started"
	EventContainerExited      HealthEventType = "container_exited"
	EventContainerOOM         HealthEventType = "container_oom"
	EventContainerDisappeared HealthEventType = "container_disappeared"
	EventHealthCheckFailed    HealthEventType = "health_check_failed"
	EventHealthCheckRecovered HealthEventType = "health_check_recovered"
	EventOrphanRemoved        HealthEventType = "orphan_removed"
	// EventContainerRestarted: an automatic restart under the game's
	// restart policy (details: attempt, exit_code, classification,
	// backoff_ms).
	EventContainerRestarted HealthEventType = "container_restarted"
	// EventCrashLoop: the game exceeded max_restarts within its window and
	// stays stopped (details: restarts, window).
	EventCrashLoop HealthEventType = "crash_loop"
)

// HealthEventTypes returns every event type in a fixed order.
func HealthEventTypes() []HealthEventType {
	return []HealthEventType{EventContainerStarted, EventContainerExited, EventContainerOOM, EventContainerDisappeared,
		EventHealthCheckFailed, EventHealthCheckRecovered, EventOrphanRemoved, EventContainerRestarted, EventCrashLoop}
}

// HealthEvent is one observation about a game's container. Details is a JSON
// object: exit_code for container_exited, consecutive_failures and
// last_error for health_check_failed, and so on; empty means {}.
type HealthEvent struct {
	GameID      string
	ContainerID string
	Type        HealthEventType
	OccurredAt  time.Time
	Details     map[string]any
}

// HealthSnapshot is the latest health event of one game.
type HealthSnapshot struct {
	GameID              string
	ContainerID         string
	LastEventType       HealthEventType
	LastEventAt         time.Time
	Details             map[string]any
	ConsecutiveFailures int
}

// Snapshot returns the snapshot an event leaves behind. Failures count up
// on health_check_failed (from Details["consecutive_failures"], an int or,
// after a JSON round trip, a float64) and reset to zero on any other event.
func (e HealthEvent) Snapshot() HealthSnapshot {
	s := HealthSnapshot{GameID: e.GameID, ContainerID: e.ContainerID, LastEventType: e.Type,
		LastEventAt: e.OccurredAt, Details: e.Details}
	if e.Type == EventHealthCheckFailed {
		switch n := e.Details["consecutive_failures"].(type) {
		case int:
			s.ConsecutiveFailures = n
		case int64:
			s.ConsecutiveFailures = int(n)
		case float64:
			s.ConsecutiveFailures = int(n)
		}
	}
	return s
}
