package redis

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// redisProc is a redis-server process a test starts and stops itself.
type redisProc struct {
	tb   testing.TB
	port int
	args []string
	cmd  *exec.Cmd
}

// startRedis runs redis-server on a free loopback port with extra args and
// data in a temporary directory; it is stopped when tb ends.
func startRedis(tb testing.TB, extra ...string) *redisProc {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Missing(tb, "redis-server binary: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", tb.TempDir(),
		"--save", "", "--daemonize", "no", "--loglevel", "warning"}, extra...)
	p := &redisProc{tb: tb, port: port, args: append([]string{bin}, args...)}
	p.start()
	tb.Cleanup(p.stop)
	return p
}

func (p *redisProc) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", p.port) }

func (p *redisProc) start() {
	p.tb.Helper()
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	if err := p.cmd.Start(); err != nil {
		p.tb.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond) // poll interval until the port answers
	}
	p.tb.Fatalf("redis-server on port %d did not come up", p.port)
}

// stop terminates the process (SIGTERM: redis-server flushes its AOF) and
// waits for it.
func (p *redisProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

func (p *redisProc) restart() {
	p.tb.Helper()
	p.stop()
	p.start()
}

// retry runs f until it returns nil or a non-ErrUnavailable error, for at
// most 10 seconds: the client reconnects lazily after a restart.
func retry(tb testing.TB, what string, f func() error) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if !errors.Is(err, ports.ErrUnavailable) || time.Now().After(deadline) {
			tb.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond) // back-off between reconnect attempts
	}
}

// readN reads exactly n jobs, riding out reconnects.
func readN(tb testing.TB, q *Queue, n int) []ports.Job {
	tb.Helper()
	var got []ports.Job
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		retry(tb, "Read", func() error {
			jobs, err := q.Read(testCtx(tb), n-len(got), 200*time.Millisecond)
			got = append(got, jobs...)
			return err
		})
	}
	if len(got) != n {
		tb.Fatalf("read %d jobs, want %d", len(got), n)
	}
	return got
}

func completeAll(tb testing.TB, q *Queue, jobs []ports.Job) {
	tb.Helper()
	for _, j := range jobs {
		retry(tb, "Complete", func() error {
			return q.Complete(testCtx(tb), j, ports.JobResult{GameID: j.Fields["game_id"], OpKind: "start", Outcome: "success"})
		})
	}
}

func addN(tb testing.TB, c *Client, n int, tag string) {
	tb.Helper()
	for i := 0; i < n; i++ {
		retry(tb, "XADD", func() error {
			cmd := c.rc.B().Xadd().Key(c.Streams().StartJobs).Id("*").FieldValue().
				FieldValue("game_id", fmt.Sprintf("%s%d", tag, i)).FieldValue("image_ref", "e:1").Build()
			return unavailable(c.rc.Do(testCtx(tb), cmd).Error())
		})
	}
}

// checkOnce checks that every job has exactly one result.
func checkOnce(tb testing.TB, c *Client, wantJobs int) {
	tb.Helper()
	seen := map[string]int{}
	for _, r := range xrange(tb, c, c.Streams().JobResults) {
		seen[r["job_stream"]+"/"+r["job_id"]]++
	}
	for k, n := range seen {
		if n != 1 {
			tb.Errorf("job %s has %d results", k, n)
		}
	}
	if len(seen) != wantJobs {
		tb.Errorf("%d jobs have results, want %d", len(seen), wantJobs)
	}
}

func TestRestartDurable(t *testing.T) {
	p := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	c := MustConnect(t, p.url(), Options{}) // SPEC stream names: the server is ours
	q, err := c.Queue(testCtx(t), "a")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	addN(t, c, 5, "before")
	completeAll(t, q, readN(t, q, 5))
	addN(t, c, 3, "inflight")
	inflight := readN(t, q, 3)
	completeAll(t, q, inflight[:1])

	p.restart()

	completeAll(t, q, inflight[1:]) // finished while Redis was away
	addN(t, c, 4, "after")
	after := readN(t, q, 4)
	for _, j := range after {
		if j.Fields["game_id"][:5] != "after" {
			t.Fatalf("read %v after the restart, want only new jobs", j.Fields)
		}
	}
	completeAll(t, q, after)
	if jobs, err := q.Read(testCtx(t), 10, 100*time.Millisecond); err != nil || len(jobs) != 0 {
		t.Fatalf("Read after all = %v, %v; want nothing", jobs, err)
	}
	if jobs, err := q.Claim(testCtx(t), 0, 10); err != nil || len(jobs) != 0 {
		t.Fatalf("Claim after all = %v, %v; want nothing", jobs, err)
	}
	checkOnce(t, c, 12)
}

func TestRestartWithoutPersistence(t *testing.T) {
	p := startRedis(t, "--appendonly", "no")
	c := MustConnect(t, p.url(), Options{})
	q, err := c.Queue(testCtx(t), "a")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	addN(t, c, 2, "before")
	completeAll(t, q, readN(t, q, 2))

	p.restart() // every key is gone, the group too

	// A producer adds jobs before rtmanager's next read: XADD re-creates
	// the stream without the group.
	addN(t, c, 3, "after")
	after := readN(t, q, 3)
	completeAll(t, q, after)
	if jobs, err := q.Read(testCtx(t), 10, 100*time.Millisecond); err != nil || len(jobs) != 0 {
		t.Fatalf("Read after all = %v, %v; want nothing", jobs, err)
	}
	checkOnce(t, c, 3) // the results of the first two died with the data
	pending, err := q.Pending(testCtx(t))
	if err != nil || pending[ports.StreamStartJobs] != 0 {
		t.Fatalf("Pending = %v, %v", pending, err)
	}
}
