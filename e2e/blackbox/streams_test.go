//go:build e2e

package blackbox

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/e2e/harness"
)

// streams is a client of the instance's Redis, for the job and event
// streams.
type streams struct {
	c rueidis.Client
}

// dialRedis connects to url (a redis-server or an embedded server).
func dialRedis(t testing.TB, rawURL string) *streams {
	t.Helper()
	opt, err := rueidis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("redis url %q: %v", rawURL, err)
	}
	opt.ForceSingleClient, opt.DisableCache = true, true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("connect redis %s: %v", rawURL, err)
	}
	t.Cleanup(c.Close)
	return &streams{c: c}
}

func (s *streams) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// xadd appends an entry of field/value pairs to stream and returns its id.
func (s *streams) xadd(t testing.TB, stream string, kv ...string) string {
	t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	id, err := s.c.Do(ctx, s.c.B().Arbitrary("XADD").Keys(stream).Args(append([]string{"*"}, kv...)...).Build()).ToString()
	if err != nil {
		t.Fatalf("XADD %s: %v", stream, err)
	}
	return id
}

// xrange returns the entries of stream from id start on.
func (s *streams) xrange(t testing.TB, stream, start string) []rueidis.XRangeEntry {
	t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	es, err := s.c.Do(ctx, s.c.B().Xrange().Key(stream).Start(start).End("+").Build()).AsXRange()
	if err != nil && !rueidis.IsRedisNil(err) {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	return es
}

// msStart is the XRANGE start of the millisecond of entry id: a result or
// event caused by the entry can only come later.
func msStart(id string) string {
	ms, _, _ := strings.Cut(id, "-")
	return ms + "-0"
}

// resultsOf returns every runtime:job_results entry of the job with id on
// stream (entry ids are unique only within a stream).
func (s *streams) resultsOf(t testing.TB, stream, jobID string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, e := range s.xrange(t, streamResults, msStart(jobID)) {
		if e.FieldValues["job_id"] == jobID && e.FieldValues["job_stream"] == stream {
			out = append(out, e.FieldValues)
		}
	}
	return out
}

// awaitResult waits for the result of the job with id on stream and returns it; it fails when
// the job has more than one.
func (s *streams) awaitResult(t testing.TB, stream, jobID string) map[string]string {
	t.Helper()
	rs := harness.Await(t, opWait, "result of job "+jobID, func() ([]map[string]string, bool) {
		rs := s.resultsOf(t, stream, jobID)
		return rs, len(rs) > 0
	})
	if len(rs) != 1 {
		t.Fatalf("job %s has %d results, want exactly one: %v", jobID, len(rs), rs)
	}
	return rs[0]
}

// pending returns the ids of the entries of stream pending in the group.
func (s *streams) pending(t testing.TB, stream string) map[string]bool {
	t.Helper()
	ctx, cancel := s.ctx()
	defer cancel()
	msgs, err := s.c.Do(ctx, s.c.B().Xpending().Key(stream).Group(consumerGroup).Start("-").End("+").Count(10000).Build()).ToArray()
	if err != nil {
		t.Fatalf("XPENDING %s: %v", stream, err)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		parts, err := m.ToArray()
		if err != nil || len(parts) == 0 {
			t.Fatalf("XPENDING %s entry: %v", stream, err)
		}
		id, _ := parts[0].ToString()
		ids[id] = true
	}
	return ids
}

// healthEvents returns the game's runtime:health_events entries.
func (s *streams) healthEvents(t testing.TB, game string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, e := range s.xrange(t, streamHealth, "-") {
		if e.FieldValues["game_id"] == game {
			out = append(out, e.FieldValues)
		}
	}
	return out
}

// awaitEvent waits for a health event of the game of type typ (and, when
// container is set, of that container) and returns it with its decoded
// details.
func (s *streams) awaitEvent(t testing.TB, game, typ, container string) (map[string]string, map[string]any) {
	t.Helper()
	var ev map[string]string
	deadline := time.Now().Add(eventWait)
	for ev == nil {
		seen := s.healthEvents(t, game)
		for _, e := range seen {
			if e["event_type"] == typ && (container == "" || e["container_id"] == container) {
				ev = e
			}
		}
		if ev != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for a %s event of game %s (container %q); its events: %v",
				eventWait, typ, game, container, seen)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	checkEventFields(t, ev)
	var details map[string]any
	if err := json.Unmarshal([]byte(ev["details"]), &details); err != nil {
		t.Fatalf("event %v: details are not a JSON object: %v", ev, err)
	}
	return ev, details
}

// checkEventFields checks a health event carries the fields of SPEC §4.
func checkEventFields(t testing.TB, ev map[string]string) {
	t.Helper()
	for _, f := range []string{"game_id", "container_id", "event_type", "occurred_at", "details"} {
		if _, ok := ev[f]; !ok {
			t.Fatalf("health event %v lacks field %s", ev, f)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, ev["occurred_at"]); err != nil {
		t.Fatalf("health event %v: occurred_at: %v", ev, err)
	}
}

// num reads a JSON number from decoded details.
func num(m map[string]any, k string) (float64, bool) {
	v, ok := m[k].(float64)
	return v, ok
}
