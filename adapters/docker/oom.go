package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/ports"
)

// oomGrace is how long after a container's exit Inspect waits for Docker
// to log its oom event when the state does not say OOMKilled.
const oomGrace = time.Second

// exitSIGKILL is the exit code of a process ended by SIGKILL, which is how
// the kernel's OOM killer ends an engine.
const exitSIGKILL = 128 + 9

// oomLogged reports whether the exited container c was OOM-killed, when its
// state says it was not but it died of SIGKILL. Docker 20.10 sets
// State.OOMKilled only if containerd's OOM event reaches the daemon before
// the exit event; under load the two arrive the other way round, the flag
// stays false for good, and the daemon logs the "oom" event after "die".
// So the daemon's event log is asked for an oom event of the container
// since it started, waiting until oomGrace after its exit for one still
// on its way. A container that exited longer ago costs one query that
// returns at once; one just killed by `docker kill` or a stop's SIGKILL
// costs at most oomGrace. Any error answers false (the state's word).
func (d *Driver) oomLogged(ctx context.Context, c ports.Container) bool {
	if c.State != ports.StateExited || c.OOMKilled || c.ExitCode != exitSIGKILL || c.StartedAt.IsZero() {
		return c.OOMKilled
	}
	now := time.Now()
	until := c.FinishedAt.Add(oomGrace)
	if c.FinishedAt.IsZero() || until.Before(now) {
		until = now
	}
	// Bounded also when the daemon's clock is ahead of this host's.
	ctx, cancel := context.WithDeadline(ctx, until.Add(oomGrace))
	defer cancel()
	res := d.cli.Events(ctx, client.EventsListOptions{
		Since: unixTime(c.StartedAt), Until: unixTime(until),
		Filters: make(client.Filters).
			Add("type", string(events.ContainerEventType)).
			Add("container", c.ID).
			Add("event", string(events.ActionOOM)),
	})
	for {
		select {
		case m := <-res.Messages:
			if m.Action == events.ActionOOM && m.Actor.ID == c.ID {
				return true
			}
		case <-res.Err: // io.EOF once until has passed
			return false
		}
	}
}

// unixTime formats t the way the Events API takes since and until.
func unixTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}
