package docker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/ports"
)

// Re-subscription backoff after the event stream breaks (daemon restart,
// dropped connection).
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// healthyStream: a stream that lived this long resets the backoff.
	healthyStream = 10 * time.Second
	// dedupWindow is how many recent events are remembered to drop the
	// ones Docker replays after a re-subscription.
	dedupWindow = 1024
)

// Events streams start, die, oom, destroy and health_status events of
// containers labelled rtmanager.managed=true until ctx ends, then closes
// the channel. Events that happen after the call are delivered even if
// the subscription is still being set up. When the stream breaks, the
// driver re-subscribes with backoff from the time of the last event it
// saw, so a dropped connection loses nothing Docker still remembers (a
// daemon restart loses its memory; the reconciler covers that gap).
func (d *Driver) Events(ctx context.Context) (<-chan ports.Event, error) {
	since := time.Now()
	if _, err := d.cli.Ping(ctx, client.PingOptions{}); err != nil {
		return nil, fmt.Errorf("docker: events: %w", translate(err))
	}
	out := make(chan ports.Event, 64)
	go d.watch(ctx, newCursor(since), out)
	return out, nil
}

func (d *Driver) watch(ctx context.Context, cur *cursor, out chan<- ports.Event) {
	defer close(out)
	filters := make(client.Filters).
		Add("type", string(events.ContainerEventType)).
		Add("label", ports.LabelManaged+"=true")
	backoff := minBackoff
	for {
		begin := time.Now()
		subCtx, cancel := context.WithCancel(ctx)
		res := d.cli.Events(subCtx, client.EventsListOptions{Since: cur.since(), Filters: filters})
		err := d.pump(ctx, res, cur, out)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if time.Since(begin) > healthyStream {
			backoff = minBackoff
		}
		d.log.Warn("event stream broke; re-subscribing", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// pump forwards one subscription's events until it fails or ctx ends.
func (d *Driver) pump(ctx context.Context, res client.EventsResult, cur *cursor, out chan<- ports.Event) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-res.Err:
			return err
		case m := <-res.Messages:
			if !cur.advance(m) {
				continue
			}
			ev, ok := toEvent(m)
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// toEvent translates a Docker container event; ok is false for actions
// rtmanager does not watch.
func toEvent(m events.Message) (ev ports.Event, ok bool) {
	if m.Type != events.ContainerEventType {
		return ev, false
	}
	ev = ports.Event{ContainerID: m.Actor.ID, Labels: rtmLabels(m.Actor.Attributes), At: eventTime(m)}
	switch action := string(m.Action); {
	case m.Action == events.ActionStart:
		ev.Type = ports.EventStarted
	case m.Action == events.ActionDie:
		ev.Type = ports.EventExited
		ev.ExitCode, _ = strconv.Atoi(m.Actor.Attributes["exitCode"])
	case m.Action == events.ActionOOM:
		ev.Type = ports.EventOOM
	case m.Action == events.ActionDestroy:
		ev.Type = ports.EventRemoved
	case strings.HasPrefix(action, string(events.ActionHealthStatus)):
		ev.Type = ports.EventHealth
		_, status, _ := strings.Cut(action, ":")
		ev.Health = strings.TrimSpace(status)
	default:
		return ev, false
	}
	return ev, true
}

// rtmLabels picks the rtmanager.* labels out of an event's attributes,
// which mix the container's labels with Docker's own keys (name, image,
// exitCode).
func rtmLabels(attrs map[string]string) map[string]string {
	labels := make(map[string]string)
	for k, v := range attrs {
		if strings.HasPrefix(k, "rtmanager.") {
			labels[k] = v
		}
	}
	return labels
}

func eventTime(m events.Message) time.Time {
	if m.TimeNano != 0 {
		return time.Unix(0, m.TimeNano)
	}
	return time.Unix(m.Time, 0)
}

// cursor remembers where the stream is, so a re-subscription asks Docker
// for the events since the last one seen and drops the replayed ones.
type cursor struct {
	last   int64 // unix nanoseconds of the newest event seen
	seen   map[string]struct{}
	order  []string
	oldest int
}

func newCursor(since time.Time) *cursor {
	return &cursor{last: since.UnixNano(), seen: make(map[string]struct{})}
}

// since formats the resume point for the Events API (seconds.nanoseconds).
func (c *cursor) since() string {
	return unixTime(time.Unix(0, c.last))
}

// advance records m and reports whether it is new.
func (c *cursor) advance(m events.Message) bool {
	key := fmt.Sprintf("%s|%s|%s|%d", m.Type, m.Actor.ID, m.Action, m.TimeNano)
	if _, dup := c.seen[key]; dup {
		return false
	}
	c.seen[key] = struct{}{}
	if len(c.order) < dedupWindow {
		c.order = append(c.order, key)
	} else {
		delete(c.seen, c.order[c.oldest])
		c.order[c.oldest] = key
		c.oldest = (c.oldest + 1) % dedupWindow
	}
	c.last = max(c.last, eventTime(m).UnixNano())
	return true
}
