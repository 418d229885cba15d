package docker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/events"

	"github.com/galaxy-game/rtmanager/ports"
)

func TestToEvent(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	attrs := map[string]string{"name": "rtm-g-1", "image": "img", "exitCode": "3", ports.LabelGameID: "g", ports.LabelManaged: "true"}
	labels := map[string]string{ports.LabelGameID: "g", ports.LabelManaged: "true"}
	for _, tc := range []struct {
		action events.Action
		want   ports.Event
		ok     bool
	}{
		{events.ActionStart, ports.Event{Type: ports.EventStarted, ContainerID: "c1", Labels: labels, ExitCode: 0, At: at}, true},
		{events.ActionDie, ports.Event{Type: ports.EventExited, ContainerID: "c1", Labels: labels, ExitCode: 3, At: at}, true},
		{events.ActionOOM, ports.Event{Type: ports.EventOOM, ContainerID: "c1", Labels: labels, At: at}, true},
		{events.ActionDestroy, ports.Event{Type: ports.EventRemoved, ContainerID: "c1", Labels: labels, At: at}, true},
		{events.ActionHealthStatusUnhealthy, ports.Event{Type: ports.EventHealth, ContainerID: "c1", Labels: labels, Health: "unhealthy", At: at}, true},
		{events.ActionKill, ports.Event{}, false},
		{events.ActionCreate, ports.Event{}, false},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			m := events.Message{Type: events.ContainerEventType, Action: tc.action, Actor: events.Actor{ID: "c1", Attributes: attrs}, TimeNano: at.UnixNano()}
			got, ok := toEvent(m)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("toEvent (-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := toEvent(events.Message{Type: events.ImageEventType, Action: events.ActionDelete}); ok {
		t.Errorf("an image event was translated")
	}
}

func TestCursorDropsReplays(t *testing.T) {
	start := time.Unix(1700000000, 0)
	c := newCursor(start)
	if got, want := c.since(), "1700000000.000000000"; got != want {
		t.Errorf("since = %q, want %q", got, want)
	}
	m := func(id string, action events.Action, nano int64) events.Message {
		return events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: id}, TimeNano: nano}
	}
	t0 := start.UnixNano() + 5
	for _, step := range []struct {
		m    events.Message
		want bool
	}{
		{m("a", events.ActionStart, t0), true},
		{m("a", events.ActionDie, t0), true},   // same instant, other action
		{m("b", events.ActionStart, t0), true}, // same instant, other container
		{m("a", events.ActionStart, t0), false},
		{m("a", events.ActionDie, t0+1), true},
	} {
		if got := c.advance(step.m); got != step.want {
			t.Errorf("advance(%s %s %d) = %v, want %v", step.m.Actor.ID, step.m.Action, step.m.TimeNano, got, step.want)
		}
	}
	if got, want := c.since(), "1700000000.000000006"; got != want {
		t.Errorf("since after events = %q, want %q", got, want)
	}
	for i := range dedupWindow + 10 {
		c.advance(m("x", events.ActionStart, t0+10+int64(i)))
	}
	if len(c.seen) != dedupWindow || len(c.order) != dedupWindow {
		t.Errorf("cursor remembers %d/%d keys, want %d", len(c.seen), len(c.order), dedupWindow)
	}
}
