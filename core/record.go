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
}

// Running returns r moved to running on container id at endpoint.
func (r Record) Running(id, endpoint string, now time.Time) Record {
	r.Status, r.ContainerID, r.Endpoint = StatusRunning, id, endpoint
	r.StartedAt, r.LastOpAt = timePtr(now), now
	return r
}

// Stopped returns r moved to stopped; the container is kept for cleanup.
func (r Record) Stopped(now time.Time) Record {
	r.Status, r.Endpoint = StatusStopped, ""
	r.StoppedAt, r.LastOpAt = timePtr(now), now
	return r
}

// Removed returns r moved to removed: no container exists any more, and
// the job env is dropped — a removed record keeps no secrets (SPEC §2).
// Every move to removed goes through here.
func (r Record) Removed(now time.Time) Record {
	r.Status, r.ContainerID, r.Endpoint, r.Env = StatusRemoved, "", "", nil
	r.RemovedAt, r.LastOpAt = timePtr(now), now
	return r
}

// Starting returns r moved to starting with the next generation, image and
// env: the reservation a start makes before it creates a container.
func (r Record) Starting(image string, env map[string]string, now time.Time) Record {
	r.Status, r.ContainerID, r.Endpoint, r.ImageRef, r.Env = StatusStarting, "", "", image, env
	r.Generation++
	r.LastOpAt = now
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	return r
}

func timePtr(t time.Time) *time.Time { return &t }
