package redis

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/queuetest"
)

// backend is one server kind the suites run against.
type backend struct {
	name string
	// url returns the URL of a server for tb, and the embedded server when
	// there is one.
	url func(tb testing.TB) (string, *Embedded)
}

var backends = []backend{
	{"redis-server", func(tb testing.TB) (string, *Embedded) { return testenv.RedisURL(tb), nil }},
	{"embedded", func(tb testing.TB) (string, *Embedded) {
		e := MustStartEmbedded(tb)
		return e.URL(), e
	}},
}

// MustStartEmbedded starts an embedded server closed when tb ends.
func MustStartEmbedded(tb testing.TB) *Embedded {
	tb.Helper()
	e, err := StartEmbedded("")
	if err != nil {
		tb.Fatalf("StartEmbedded: %v", err)
	}
	tb.Cleanup(e.Close)
	return e
}

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// scratchOptions returns options whose lease keys and streams are unique
// to this test, and registers their deletion.
func scratchOptions(tb testing.TB, url string) Options {
	tb.Helper()
	p := "rtmtest:" + testenv.RandomSuffix(6) + ":"
	opts := Options{KeyPrefix: p, Streams: Streams{StartJobs: p + "start_jobs", StopJobs: p + "stop_jobs",
		JobResults: p + "job_results", HealthEvents: p + "health_events"}}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Connect(ctx, url, Options{})
		if err != nil {
			return // the server is gone (embedded, or a restart test): nothing to clean
		}
		defer c.Close()
		s := opts.Streams
		c.rc.Do(ctx, c.rc.B().Del().Key(s.StartJobs, s.StopJobs, s.JobResults, s.HealthEvents).Build())
		keys, err := c.rc.Do(ctx, c.rc.B().Keys().Pattern(p+"*").Build()).AsStrSlice()
		if err == nil && len(keys) > 0 {
			c.rc.Do(ctx, c.rc.B().Del().Key(keys...).Build())
		}
	})
	return opts
}

// MustConnect connects to url with opts and closes the client when tb ends.
func MustConnect(tb testing.TB, url string, opts Options) *Client {
	tb.Helper()
	c, err := Connect(testCtx(tb), url, opts)
	if err != nil {
		tb.Fatalf("Connect(%s): %v", url, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// xadd appends fields to stream through c.
func xadd(tb testing.TB, c *Client, stream string, fields map[string]string) string {
	tb.Helper()
	args := []string{"*"}
	for k, v := range fields {
		args = append(args, k, v)
	}
	id, err := c.rc.Do(testCtx(tb), c.rc.B().Arbitrary("XADD").Keys(stream).Args(args...).Build()).ToString()
	if err != nil {
		tb.Fatalf("XADD %s: %v", stream, err)
	}
	return id
}

// xrange returns every entry of stream, oldest first.
func xrange(tb testing.TB, c *Client, stream string) []map[string]string {
	tb.Helper()
	entries, err := c.rc.Do(testCtx(tb), c.rc.B().Xrange().Key(stream).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		tb.Fatalf("XRANGE %s: %v", stream, err)
	}
	out := make([]map[string]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.FieldValues)
	}
	return out
}

// entryIDs returns the id of every entry of stream, oldest first.
func entryIDs(tb testing.TB, c *Client, stream string) []string {
	tb.Helper()
	entries, err := c.rc.Do(testCtx(tb), c.rc.B().Xrange().Key(stream).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		tb.Fatalf("XRANGE %s: %v", stream, err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids
}

// queueFixture builds a queuetest fixture on url.
func queueFixture(t *testing.T, url string) queuetest.Fixture {
	opts := scratchOptions(t, url)
	opts.MaxLen = 20
	admin := MustConnect(t, url, opts)
	s := admin.Streams()
	return queuetest.Fixture{
		StartStream: s.StartJobs,
		StopStream:  s.StopJobs,
		Queue: func(consumer string) ports.JobQueue {
			c := MustConnect(t, url, opts) // one client per consumer, like one per instance
			q, err := c.Queue(testCtx(t), consumer)
			if err != nil {
				t.Fatalf("Queue(%s): %v", consumer, err)
			}
			return q
		},
		Add:     func(stream string, fields map[string]string) string { return xadd(t, admin, stream, fields) },
		Results: func() []map[string]string { return xrange(t, admin, s.JobResults) },
		IDs:     func(stream string) []string { return entryIDs(t, admin, stream) },
		MaxLen:  opts.MaxLen,
		DestroyGroup: func() {
			for _, st := range []string{s.StartJobs, s.StopJobs} {
				err := admin.rc.Do(testCtx(t), admin.rc.B().XgroupDestroy().Key(st).Group(s.Group).Build()).Error()
				if err != nil {
					t.Fatalf("XGROUP DESTROY %s: %v", st, err)
				}
			}
		},
	}
}
