package drivertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

func init() {
	cases = append(cases, []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"Logs", testLogs},
		{"LogsFollow", testLogsFollow},
		{"Stats", testStats},
	}...)
}

// capabilities returns the driver's capabilities or fails the case.
func (f *fixture) capabilities() ports.Capabilities {
	f.t.Helper()
	c, err := f.d.Capabilities(ctxFor(f.t, 30*time.Second))
	if err != nil {
		f.t.Fatalf("Capabilities: %v", err)
	}
	return c
}

// say makes the engine at endpoint write line to stream (stdout|stderr).
func (f *fixture) say(endpoint, stream, line string) {
	f.t.Helper()
	code, body, err := get(endpoint, "/say?to="+stream+"&line="+url.QueryEscape(line))
	if err != nil || code != 204 {
		f.t.Fatalf("GET /say %s %q: status %d %q err %v", stream, line, code, body, err)
	}
}

// logs returns the container's output as Logs writes it.
func (f *fixture) logs(id string, opts ports.LogOptions) (string, error) {
	var b strings.Builder
	err := ports.ReadLogs(ctxFor(f.t, 30*time.Second), f.d, id, opts, &b)
	return b.String(), err
}

// waitLogs polls Logs until its output contains every want, in order.
func (f *fixture) waitLogs(id string, opts ports.LogOptions, want ...string) string {
	f.t.Helper()
	deadline := time.Now().Add(f.h.Slack + 10*time.Second)
	var out string
	var err error
	for time.Now().Before(deadline) {
		out, err = f.logs(id, opts)
		if err == nil && inOrder(out, want...) {
			return out
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	f.t.Fatalf("Logs(%+v) never held %q in order; last: %q err %v", opts, want, out, err)
	return ""
}

// inOrder reports whether s contains every want, one after the other.
func inOrder(s string, want ...string) bool {
	for _, w := range want {
		i := strings.Index(s, w)
		if i < 0 {
			return false
		}
		s = s[i+len(w):]
	}
	return true
}

// testLogs: stdout and stderr come merged in the order written, tail keeps
// the last lines, timestamps prefix lines, since drops older lines, and a
// missing container is ErrNotFound. A driver without logs answers
// ErrUnsupported.
func testLogs(t *testing.T, h Harness) {
	f := newFixture(t, h)
	caps := f.capabilities()
	if !caps.Logs {
		if _, err := f.logs("rtm-none", ports.LogOptions{Tail: ports.TailAll}); !errors.Is(err, ports.ErrUnsupported) {
			t.Fatalf("Logs on a driver without Capabilities.Logs = %v, want ErrUnsupported", err)
		}
		t.Skip("the driver does not declare Logs")
	}
	c, _ := f.start(f.spec(nil))
	f.waitHealthy(c.Endpoint)
	// Order holds for lines written at distinct times: a runtime may copy
	// the two pipes concurrently (Docker does), so each line is written
	// once the one before is seen.
	var want []string
	var all string
	for _, l := range []struct{ stream, line string }{{"stdout", "line-1 out"}, {"stderr", "line-2 err"}, {"stdout", "line-3 out"}} {
		f.say(c.Endpoint, l.stream, l.line)
		want = append(want, l.line+"\n")
		all = f.waitLogs(c.ID, ports.LogOptions{Tail: ports.TailAll}, want...)
	}
	t.Logf("logs: %q", all)

	if out, err := f.logs(c.ID, ports.LogOptions{Tail: 1}); err != nil || out != "line-3 out\n" {
		t.Errorf("Logs(tail 1) = %q, %v; want the last line only", out, err)
	}
	if out, err := f.logs(c.ID, ports.LogOptions{Tail: 0}); err != nil || out != "" {
		t.Errorf("Logs(tail 0) = %q, %v; want nothing", out, err)
	}
	// Timestamps and since work exactly when the driver declares LogTimes.
	out, err := f.logs(c.ID, ports.LogOptions{Tail: 2, Timestamps: true})
	switch {
	case !caps.LogTimes && !errors.Is(err, ports.ErrUnsupported):
		t.Errorf("Logs(timestamps) without LogTimes = %q, %v; want ErrUnsupported", out, err)
	case !caps.LogTimes:
	case err != nil:
		t.Fatalf("Logs(timestamps): %v", err)
	default:
		checkTimestamps(t, out)
	}
	out, err = f.logs(c.ID, ports.LogOptions{Tail: ports.TailAll, Since: time.Now().Add(time.Hour)})
	switch {
	case !caps.LogTimes && !errors.Is(err, ports.ErrUnsupported):
		t.Errorf("Logs(since) without LogTimes = %q, %v; want ErrUnsupported", out, err)
	case !caps.LogTimes:
	case err != nil || out != "":
		t.Errorf("Logs(since an hour ahead) = %q, %v; want nothing", out, err)
	}
	if _, err := f.logs(c.ID, ports.LogOptions{Tail: ports.MaxTail + 1}); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("Logs(tail %d) = %v, want ErrInvalid", ports.MaxTail+1, err)
	}
	if _, err := f.logs("rtm-missing-"+randomHex(4), ports.LogOptions{Tail: ports.TailAll}); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Logs of a missing container = %v, want ErrNotFound", err)
	}
}

// checkTimestamps checks the two lines of out start with a recent RFC 3339
// time and a space.
func checkTimestamps(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("Logs(tail 2, timestamps) = %q, want 2 lines", out)
	}
	for _, l := range lines {
		ts, rest, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || time.Since(at) > time.Hour || time.Until(at) > time.Minute {
			t.Errorf("line %q: timestamp %q: %v (want a recent RFC 3339 time)", l, ts, err)
		}
		if !strings.HasPrefix(rest, "line-") {
			t.Errorf("line %q: want the engine's line after the timestamp", l)
		}
	}
}

// follow starts a follower of id and returns its output and its result.
func (f *fixture) follow(ctx context.Context, id string, tail int) (*testenv.Buffer, <-chan error) {
	out, done := &testenv.Buffer{}, make(chan error, 1)
	go func() { done <- ports.ReadLogs(ctx, f.d, id, ports.LogOptions{Tail: tail, Follow: true}, out) }()
	return out, done
}

// waitOutput polls a follower's output until it holds want.
func (f *fixture) waitOutput(out *testenv.Buffer, want string) {
	f.t.Helper()
	deadline := time.Now().Add(f.h.Slack + 10*time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	f.t.Fatalf("the follower never wrote %q; it holds %q", want, out.String())
}

// waitDone waits for a follower's result.
func (f *fixture) waitDone(done <-chan error, what string) error {
	f.t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(f.h.Slack + 15*time.Second):
		f.t.Fatalf("the follower did not return after %s", what)
		return nil
	}
}

// testLogsFollow: a follower sees lines written after it started, returns
// nil once the container exits, and returns promptly when its context
// ends.
func testLogsFollow(t *testing.T, h Harness) {
	f := newFixture(t, h)
	if !f.capabilities().Logs {
		t.Skip("the driver does not declare Logs")
	}
	c, _ := f.start(f.spec(nil))
	f.waitHealthy(c.Endpoint)
	f.say(c.Endpoint, "stdout", "before follow")
	f.waitLogs(c.ID, ports.LogOptions{Tail: ports.TailAll}, "before follow\n")

	cancelled, cancel := context.WithCancel(context.Background())
	defer cancel()
	out1, done1 := f.follow(cancelled, c.ID, 0)
	out2, done2 := f.follow(context.Background(), c.ID, 1)
	f.waitOutput(out2, "before follow\n")
	for i := range 3 {
		f.say(c.Endpoint, []string{"stdout", "stderr"}[i%2], fmt.Sprintf("followed %d", i))
		f.waitOutput(out1, fmt.Sprintf("followed %d\n", i))
	}
	f.waitOutput(out2, "followed 2\n")
	if got := out1.String(); strings.Contains(got, "before follow") || !inOrder(got, "followed 0\n", "followed 1\n", "followed 2\n") {
		t.Errorf("follower with tail 0 wrote %q; want only the lines after it started, in order", got)
	}

	cancel()
	if err := f.waitDone(done1, "its context ended"); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled follower returned %v, want nil or context.Canceled", err)
	}
	f.stop(f.d, c.ID, 5*time.Second)
	if err := f.waitDone(done2, "the container exited"); err != nil {
		t.Errorf("a follower of a container that exited returned %v, want nil", err)
	}
	if !strings.Contains(out2.String(), "shutting down") {
		t.Logf("note: the follower did not show the engine's last line; it holds %q", out2.String())
	}
	// Following an exited container writes what it kept and returns.
	out3, done3 := f.follow(context.Background(), c.ID, 2)
	if err := f.waitDone(done3, "following an exited container"); err != nil {
		t.Errorf("following an exited container returned %v, want nil", err)
	}
	if out3.String() == "" {
		t.Errorf("following an exited container wrote nothing; want its last lines")
	}
}

// testStats: a running container has a sample with a recent time, memory
// in use and at least one process; a missing one is ErrNotFound. A driver
// without stats answers ErrUnsupported.
func testStats(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := ctxFor(t, 30*time.Second)
	if !f.capabilities().Stats {
		if _, err := ports.ReadStats(ctx, f.d, "rtm-none"); !errors.Is(err, ports.ErrUnsupported) {
			t.Fatalf("Stats on a driver without Capabilities.Stats = %v, want ErrUnsupported", err)
		}
		t.Skip("the driver does not declare Stats")
	}
	c, _ := f.start(f.spec(nil))
	f.waitHealthy(c.Endpoint)
	f.waitSampled(c.ID)
	// The start may have used up most of the first context.
	ctx = ctxFor(t, 30*time.Second)
	for i := range 2 { // the second sample has a CPU figure on every driver
		st, err := ports.ReadStats(ctx, f.d, c.ID)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		t.Logf("stats %d: %s", i, describe(st))
		if st.At.IsZero() || time.Since(st.At) > time.Minute {
			t.Errorf("Stats.At = %v, want a recent time", st.At)
		}
		if st.MemoryBytes == nil || *st.MemoryBytes <= 0 {
			t.Errorf("Stats.MemoryBytes = %v, want a positive figure", st.MemoryBytes)
		}
		if st.Pids != nil && *st.Pids < 1 {
			t.Errorf("Stats.Pids = %d, want at least 1", *st.Pids)
		}
		if i == 1 && (st.CPUPercent == nil || *st.CPUPercent < 0) {
			t.Errorf("Stats.CPUPercent of the second sample = %v, want a figure >= 0", st.CPUPercent)
		}
	}
	if _, err := ports.ReadStats(ctx, f.d, "rtm-missing-"+randomHex(4)); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Stats of a missing container = %v, want ErrNotFound", err)
	}
	f.stop(f.d, c.ID, 5*time.Second)
	if _, err := ports.ReadStats(ctx, f.d, c.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Stats of an exited container = %v, want ErrNotFound", err)
	}
}

// waitSampled polls Stats until it has a memory figure: a driver whose
// runtime samples containers periodically (the kubelet) answers null
// figures for a container started a moment ago.
func (f *fixture) waitSampled(id string) {
	f.t.Helper()
	deadline := time.Now().Add(f.h.Slack + 30*time.Second)
	for {
		st, err := ports.ReadStats(ctxFor(f.t, 30*time.Second), f.d, id)
		if err != nil {
			f.t.Fatalf("Stats: %v", err)
		}
		if st.MemoryBytes != nil || time.Now().After(deadline) {
			return // the checks below fail a figure that never came
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
}

// describe prints a sample with its nil figures.
func describe(st ports.Stats) string {
	f := func(p *int64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	cpu := "null"
	if st.CPUPercent != nil {
		cpu = fmt.Sprintf("%.2f", *st.CPUPercent)
	}
	return fmt.Sprintf("at %s cpu %s%% mem %s/%s pids %s rx %s tx %s", st.At.Format(time.RFC3339), cpu,
		f(st.MemoryBytes), f(st.MemoryLimitBytes), f(st.Pids), f(st.NetRxBytes), f(st.NetTxBytes))
}
