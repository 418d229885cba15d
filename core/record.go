package core

import "time"

// Record is the durable truth about one game's runtime: one per game.
type Record struct {
	GameID string
	Status Status
	// ContainerID is the driver's full id of the current container; empty
	// when the runtime is removed or a start has not yet created one.
	ContainerID string
	ImageRef    string
	// Endpoint is host:port where the engine answers; empty unless running.
	Endpoint string
	// Generation increments on every new container and fences writes.
	Generation int64
	// Env is the job environment the current image was started with;
	// restart and patch start the new container with it again. It is not
	// part of the REST representation.
	Env       map[string]string
	CreatedAt time.Time
	StartedAt *time.Time
	StoppedAt *time.Time
	RemovedAt *time.Time
	LastOpAt  time.Time
	// RestartPolicy says whether an engine that exits on its own is
	// restarted (SPEC §3a).
	RestartPolicy RestartPolicy
	// RestartCount counts automatic restarts since the last operator or
	// platform start.
	RestartCount int
	// NextRestartAt is when a pending automatic restart is due; nil when
	// none is pending. Any operation on the game cancels it.
	NextRestartAt *time.Time
	// Crash is the automatic-restart bookkeeping (streak, window history,
	// the exit that scheduled the pending restart).
	Crash CrashState
}

// Running returns r moved to running on container id at endpoint.
func (r Record) Running(id, endpoint string, now time.Time) Record {
	r.Status, r.ContainerID, r.Endpoint = StatusRunning, id, endpoint
	r.StartedAt, r.LastOpAt = timePtr(now), now
	return r
}

// Stopped returns r moved to stopped, without a pending automatic
// restart; the container is kept for cleanup.
func (r Record) Stopped(now time.Time) Record {
	r.Status, r.Endpoint, r.NextRestartAt = StatusStopped, "", nil
	r.StoppedAt, r.LastOpAt = timePtr(now), now
	return r
}

// Removed returns r moved to removed: no container exists any more, and
// the job env is dropped — a removed record keeps no secrets (SPEC §2).
// Every move to removed goes through here.
func (r Record) Removed(now time.Time) Record {
	r.Status, r.ContainerID, r.Endpoint, r.Env, r.NextRestartAt = StatusRemoved, "", "", nil, nil
	r.RemovedAt, r.LastOpAt = timePtr(now), now
	return r
}

// Starting returns r moved to starting with the next generation, image and
// env: the reservation a start makes before it creates a container.
func (r Record) Starting(image string, env map[string]string, now time.Time) Record {
	r.Status, r.ContainerID, r.Endpoint, r.ImageRef, r.Env = StatusStarting, "", "", image, env
	r.NextRestartAt = nil
	r.Generation++
	r.LastOpAt = now
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	return r
}

func timePtr(t time.Time) *time.Time { return &t }

// RecordHead is the part of a Record a reconcile pass compares with the
// driver's containers: which game, its status, its current container and
// generation (the compare part of a CAS), and the due time of a pending
// automatic restart. Reading heads instead of records spares a store the
// rest of each row and its JSON columns.
type RecordHead struct {
	GameID        string
	Status        Status
	ContainerID   string
	Generation    int64
	NextRestartAt *time.Time
}

// Head returns r's head; its NextRestartAt is a copy, not r's pointer.
func (r Record) Head() RecordHead {
	h := RecordHead{GameID: r.GameID, Status: r.Status, ContainerID: r.ContainerID, Generation: r.Generation}
	if r.NextRestartAt != nil {
		h.NextRestartAt = timePtr(*r.NextRestartAt)
	}
	return h
}
