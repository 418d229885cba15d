// Package queuetest is the contract suite of ports.JobQueue. Every
// implementation (Redis, the embedded server, a fake) runs it:
//
//	queuetest.Run(t, queuetest.Harness{Setup: func(t *testing.T) queuetest.Fixture { … }})
//
// The suite is exported from a non-test file so adapters in other packages
// can import it.
package queuetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// ResultFields are the fields of a runtime:job_results entry (SPEC §4).
var ResultFields = []string{"job_stream", "job_id", "game_id", "op_kind", "outcome",
	"error_code", "error_message", "container_id", "endpoint", "finished_at"}

// Fixture is one isolated set of job streams, results stream and consumer
// group, fresh for each case.
type Fixture struct {
	// StartStream and StopStream are the job streams the queues read, and
	// the keys of Pending's answer.
	StartStream, StopStream string
	// Queue returns a queue of the fixture's group for consumer; the group
	// exists once it returns. The fixture closes it when the case ends.
	Queue func(consumer string) ports.JobQueue
	// Add appends an entry with fields to stream and returns its id.
	Add func(stream string, fields map[string]string) string
	// Results returns every entry of the results stream, oldest first.
	Results func() []map[string]string
	// DestroyGroup removes the consumer group from both job streams, as a
	// Redis restart without persistence or an operator would.
	DestroyGroup func()
	// IDs returns the ids of every entry still in stream, oldest first.
	IDs func(stream string) []string
	// MaxLen is the approximate cap on the results stream the fixture's
	// queues were built with (SPEC §4 retention); 0 skips the trim case.
	MaxLen int64
}

// Harness builds fixtures.
type Harness struct {
	// Setup returns a fresh fixture and registers its clean-up with t.
	Setup func(t *testing.T) Fixture
	// ClaimIdle is the minIdle the claim cases use; 0 means 200ms.
	ClaimIdle time.Duration
}

// Run runs the JobQueue contract against h.
func Run(t *testing.T, h Harness) {
	if h.ClaimIdle == 0 {
		h.ClaimIdle = 200 * time.Millisecond
	}
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness, f Fixture)
	}{
		{"ReadOnce", testReadOnce},
		{"ReadBothStreams", testReadBothStreams},
		{"SeqOrdersAcrossStreams", testSeqOrdersAcrossStreams},
		{"ReadRespectsCount", testReadRespectsCount},
		{"ReadRawFields", testReadRawFields},
		{"CompleteWritesOneResult", testCompleteWritesOneResult},
		{"CompleteTwice", testCompleteTwice},
		{"ClaimAfterIdle", testClaimAfterIdle},
		{"TouchPreventsClaim", testTouchPreventsClaim},
		{"ConcurrentComplete", testConcurrentComplete},
		{"GroupRecreated", testGroupRecreated},
		{"Pending", testPending},
		{"CompleteDeletesJob", testCompleteDeletesJob},
		{"ResultsTrimmed", testResultsTrimmed},
		{"ClaimCountsDeliveries", testClaimCountsDeliveries},
		{"StaleTouchKeepsClaim", testStaleTouchKeepsClaim},
		{"CompleteMany", testCompleteMany},
		{"CompleteManyInvalid", testCompleteManyInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, h, h.Setup(t))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// MustRead reads until it has n jobs or the deadline passes.
func MustRead(t *testing.T, q ports.JobQueue, n int) []ports.Job {
	t.Helper()
	ctx := ctxT(t)
	var got []ports.Job
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		jobs, err := q.Read(ctx, n-len(got), 200*time.Millisecond)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, jobs...)
	}
	if len(got) != n {
		t.Fatalf("Read got %d jobs, want %d: %+v", len(got), n, got)
	}
	return got
}

// mustReadNothing checks that a short blocking Read returns no job.
func mustReadNothing(t *testing.T, q ports.JobQueue) {
	t.Helper()
	jobs, err := q.Read(ctxT(t), 10, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(jobs) != 0 {
		t.Fatalf("Read returned %d unexpected jobs: %+v", len(jobs), jobs)
	}
}

func result(j ports.Job, game string) ports.JobResult {
	return ports.JobResult{JobStream: j.Stream, JobID: j.ID, GameID: game, OpKind: core.OpStart,
		Outcome: core.OutcomeSuccess, ContainerID: "c-" + game, Endpoint: "127.0.0.1:40000",
		FinishedAt: time.Date(2026, 11, 25, 10, 11, 12, 0, time.UTC)}
}

func mustComplete(t *testing.T, q ports.JobQueue, j ports.Job, r ports.JobResult) {
	t.Helper()
	if err := q.Complete(ctxT(t), j, r); err != nil {
		t.Fatalf("Complete(%s %s): %v", j.Stream, j.ID, err)
	}
}

func mustPending(t *testing.T, f Fixture, q ports.JobQueue, start, stop int64) {
	t.Helper()
	got, err := q.Pending(ctxT(t))
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	want := map[string]int64{f.StartStream: start, f.StopStream: stop}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Pending (-want +got):\n%s", d)
	}
}

// key names a job across streams: entry ids are unique only per stream.
func key(stream, id string) string { return stream + "/" + id }

func resultsFor(f Fixture, stream, jobID string) []map[string]string {
	var out []map[string]string
	for _, r := range f.Results() {
		if r["job_stream"] == stream && r["job_id"] == jobID {
			out = append(out, r)
		}
	}
	return out
}

func testReadOnce(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	fields := map[string]string{"game_id": "g1", "image_ref": "engine:1", "env": `{"K":"V"}`}
	id := f.Add(f.StartStream, fields)
	jobs := MustRead(t, q, 1)
	seq, err := core.ParseJobSeq(id)
	if err != nil {
		t.Fatalf("entry id %q: %v", id, err)
	}
	want := ports.Job{Stream: f.StartStream, ID: id, Seq: seq, Fields: fields, Deliveries: 1}
	if d := cmp.Diff(want, jobs[0]); d != "" {
		t.Fatalf("job (-want +got):\n%s", d)
	}
	mustReadNothing(t, q)
	mustReadNothing(t, f.Queue("b"))
}

func testReadBothStreams(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	start := f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	stop := f.Add(f.StopStream, map[string]string{"game_id": "g1", "reason": "admin_request"})
	jobs := MustRead(t, q, 2)
	got := map[string]string{}
	for _, j := range jobs {
		got[j.Stream] = j.ID
	}
	want := map[string]string{f.StartStream: start, f.StopStream: stop}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("job streams (-want +got):\n%s", d)
	}
}

// testSeqOrdersAcrossStreams: Job.Seq orders jobs by the time they were
// added, across both streams (core relies on it to refuse a late job).
func testSeqOrdersAcrossStreams(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	streams := []string{f.StartStream, f.StopStream, f.StartStream, f.StopStream}
	added := map[string]int{}
	for i, s := range streams {
		added[s+" "+f.Add(s, map[string]string{"game_id": "g1"})] = i
	}
	jobs := MustRead(t, q, len(streams))
	for _, a := range jobs {
		for _, b := range jobs {
			ia, ib := added[a.Stream+" "+a.ID], added[b.Stream+" "+b.ID]
			if ia < ib && a.Seq.Compare(b.Seq) > 0 {
				t.Errorf("job %d (%s %s, Seq %v) orders after job %d (%s %s, Seq %v)",
					ia, a.Stream, a.ID, a.Seq, ib, b.Stream, b.ID, b.Seq)
			}
		}
	}
}

func testReadRespectsCount(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	want := map[string]bool{}
	for i := 0; i < 5; i++ {
		want[key(f.StartStream, f.Add(f.StartStream, map[string]string{"game_id": fmt.Sprint("s", i)}))] = true
		want[key(f.StopStream, f.Add(f.StopStream, map[string]string{"game_id": fmt.Sprint("t", i)}))] = true
	}
	got := map[string]bool{}
	ctx := ctxT(t)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		jobs, err := q.Read(ctx, 3, 200*time.Millisecond)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(jobs) > 3 {
			t.Fatalf("Read(count=3) returned %d jobs", len(jobs))
		}
		for _, j := range jobs {
			if got[key(j.Stream, j.ID)] {
				t.Fatalf("job %s %s read twice", j.Stream, j.ID)
			}
			got[key(j.Stream, j.ID)] = true
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("jobs read (-want +got):\n%s", d)
	}
	mustReadNothing(t, q)
}

func testReadRawFields(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	huge := make([]byte, 1<<20)
	for i := range huge {
		huge[i] = byte('a' + i%26)
	}
	fields := map[string]string{"game_id": "NOT A VALID ID!", "image_ref": string(huge),
		"": "empty name", "empty": "", "bin": "\x00\xff\r\n"}
	for i := 0; i < 200; i++ {
		fields[fmt.Sprint("extra", i)] = fmt.Sprint(i)
	}
	id := f.Add(f.StartStream, fields)
	jobs := MustRead(t, q, 1)
	if jobs[0].ID != id {
		t.Fatalf("job id %s, want %s", jobs[0].ID, id)
	}
	if d := cmp.Diff(fields, jobs[0].Fields); d != "" {
		t.Fatalf("fields (-want +got):\n%.2000s", d)
	}
}

func testCompleteWritesOneResult(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	j := MustRead(t, q, 1)[0]
	mustPending(t, f, q, 1, 0)
	r := ports.JobResult{GameID: "g1", OpKind: core.OpStart, Outcome: core.OutcomeFailure,
		ErrorCode: core.CodeStartFailed, ErrorMessage: "engine died: exit 3",
		ContainerID: "abc123", Endpoint: "", FinishedAt: time.Date(2026, 11, 25, 10, 11, 12, 0, time.FixedZone("x", 3600))}
	mustComplete(t, q, j, r)
	got := f.Results()
	want := []map[string]string{{"job_stream": f.StartStream, "job_id": j.ID, "game_id": "g1",
		"op_kind": "start", "outcome": "failure", "error_code": "start_failed",
		"error_message": "engine died: exit 3", "container_id": "abc123", "endpoint": "",
		"finished_at": "2026-11-25T09:11:12Z"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("results (-want +got):\n%s", d)
	}
	keys := make([]string, 0, len(got[0]))
	for k := range got[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := append([]string(nil), ResultFields...)
	sort.Strings(wantKeys)
	if d := cmp.Diff(wantKeys, keys); d != "" {
		t.Fatalf("result fields (-want +got):\n%s", d)
	}
	mustPending(t, f, q, 0, 0)
}

func testCompleteTwice(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	f.Add(f.StopStream, map[string]string{"game_id": "g1", "reason": "admin_request"})
	j := MustRead(t, q, 1)[0]
	r := result(j, "g1")
	r.OpKind = core.OpStop
	mustComplete(t, q, j, r)
	mustComplete(t, q, j, r)
	if n := len(resultsFor(f, j.Stream, j.ID)); n != 1 {
		t.Fatalf("%d results for job %s, want 1", n, j.ID)
	}
	mustPending(t, f, q, 0, 0)
}

func testClaimAfterIdle(t *testing.T, h Harness, f Fixture) {
	a, b := f.Queue("a"), f.Queue("b")
	id := f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	ja := MustRead(t, a, 1)[0]
	ctx := ctxT(t)
	// Right after the read the entry is not idle long enough: nobody may take it.
	if jobs, err := b.Claim(ctx, time.Hour, 10); err != nil || len(jobs) != 0 {
		t.Fatalf("Claim(1h) = %+v, %v; want nothing", jobs, err)
	}
	var jb ports.Job
	deadline := time.Now().Add(10 * time.Second)
	for jb.ID == "" && time.Now().Before(deadline) {
		jobs, err := b.Claim(ctx, h.ClaimIdle, 10)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if len(jobs) > 1 {
			t.Fatalf("Claim returned %d jobs, want 1", len(jobs))
		}
		if len(jobs) == 1 {
			jb = jobs[0]
			break
		}
		time.Sleep(h.ClaimIdle / 4) // poll interval; the condition is the claim itself
	}
	if jb.ID != id || jb.Stream != f.StartStream {
		t.Fatalf("claimed %+v, want job %s of %s", jb, id, f.StartStream)
	}
	if jb.Deliveries < 2 {
		t.Fatalf("claimed job Deliveries = %d, want >= 2", jb.Deliveries)
	}
	if jb.Seq != ja.Seq || jb.Seq.IsZero() {
		t.Fatalf("claimed job Seq = %v, read job Seq = %v; want the same, non-zero", jb.Seq, ja.Seq)
	}
	if d := cmp.Diff(ja.Fields, jb.Fields); d != "" {
		t.Fatalf("claimed fields (-want +got):\n%s", d)
	}
	mustComplete(t, b, jb, result(jb, "g1"))
	mustComplete(t, a, ja, result(ja, "g1")) // the slow original owner finishes late
	if n := len(resultsFor(f, f.StartStream, id)); n != 1 {
		t.Fatalf("%d results for job %s, want 1", n, id)
	}
	mustPending(t, f, a, 0, 0)
	if jobs, err := a.Claim(ctx, 0, 10); err != nil || len(jobs) != 0 {
		t.Fatalf("Claim after completion = %+v, %v; want nothing", jobs, err)
	}
}

// testTouchPreventsClaim: a consumer that keeps touching a job it handles
// keeps it from every claim, for as long as it touches, without counting
// deliveries; once it stops, the job can be claimed.
func testTouchPreventsClaim(t *testing.T, h Harness, f Fixture) {
	a, b := f.Queue("a"), f.Queue("b")
	id := f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	ja := MustRead(t, a, 1)[0]
	ctx := ctxT(t)
	// Touch every ClaimIdle/3 for 3 × ClaimIdle; nobody may claim meanwhile.
	for end := time.Now().Add(3 * h.ClaimIdle); time.Now().Before(end); time.Sleep(h.ClaimIdle / 3) {
		if err := a.Touch(ctx, []ports.Job{ja}); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		if jobs, err := b.Claim(ctx, h.ClaimIdle, 10); err != nil || len(jobs) != 0 {
			t.Fatalf("Claim while touched = %+v, %v; want nothing", jobs, err)
		}
	}
	var jb ports.Job
	deadline := time.Now().Add(10 * time.Second)
	for jb.ID == "" && time.Now().Before(deadline) {
		jobs, err := b.Claim(ctx, h.ClaimIdle, 10)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if len(jobs) == 1 {
			jb = jobs[0]
		}
		time.Sleep(h.ClaimIdle / 4) // poll interval; the condition is the claim itself
	}
	if jb.ID != id || jb.Deliveries != 2 {
		t.Fatalf("claimed %+v after touching stopped, want job %s delivered twice (touches count no delivery)", jb, id)
	}
	// Touching a job that is no longer pending is harmless.
	mustComplete(t, b, jb, result(jb, "g1"))
	if err := a.Touch(ctx, []ports.Job{ja}); err != nil {
		t.Fatalf("Touch of a completed job: %v", err)
	}
	mustPending(t, f, a, 0, 0)
}

func testConcurrentComplete(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	j := MustRead(t, q, 1)[0]
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := result(j, "g1")
			r.ErrorMessage = fmt.Sprint("completer ", i)
			if err := q.Complete(ctx, j, r); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Complete: %v", err)
	}
	if n := len(resultsFor(f, j.Stream, j.ID)); n != 1 {
		t.Fatalf("%d results for job %s, want exactly 1", n, j.ID)
	}
	mustPending(t, f, q, 0, 0)
}

func testGroupRecreated(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	f.Add(f.StartStream, map[string]string{"game_id": "old"})
	old := MustRead(t, q, 1)[0]
	mustComplete(t, q, old, result(old, "old"))
	f.DestroyGroup()
	id := f.Add(f.StartStream, map[string]string{"game_id": "new"})
	stop := f.Add(f.StopStream, map[string]string{"game_id": "new", "reason": "admin_request"})
	jobs := MustRead(t, q, 2)
	got := map[string]string{}
	for _, j := range jobs {
		got[key(j.Stream, j.ID)] = j.Fields["game_id"]
	}
	want := map[string]string{key(f.StartStream, id): "new", key(f.StopStream, stop): "new"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("jobs after the group vanished (-want +got):\n%s", d)
	}
	for _, j := range jobs {
		mustComplete(t, q, j, result(j, "new"))
	}
	mustReadNothing(t, q)
	if n := len(f.Results()); n != 3 {
		t.Fatalf("%d results, want 3", n)
	}
	mustPending(t, f, q, 0, 0)
}

func testPending(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	mustPending(t, f, q, 0, 0)
	for i := 0; i < 3; i++ {
		f.Add(f.StartStream, map[string]string{"game_id": fmt.Sprint("s", i)})
	}
	for i := 0; i < 2; i++ {
		f.Add(f.StopStream, map[string]string{"game_id": fmt.Sprint("t", i)})
	}
	mustPending(t, f, q, 0, 0) // added but not delivered yet
	jobs := MustRead(t, q, 5)
	mustPending(t, f, q, 3, 2)
	done := map[string]bool{}
	for _, j := range jobs {
		if !done[j.Stream] {
			done[j.Stream] = true
			mustComplete(t, q, j, result(j, j.Fields["game_id"]))
		}
	}
	mustPending(t, f, q, 2, 1)
}
