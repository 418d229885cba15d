package queuetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/ports"
)

// nodeSlack is how far above MaxLen an approximate (MAXLEN ~) trim may
// leave a stream: Redis drops only whole macro nodes, of at most
// stream-node-max-entries (default 100) entries each.
const nodeSlack = 100

// testCompleteDeletesJob: once a job's result is written its entry is gone
// from the job stream (it may carry secrets in env); a job still being
// handled, and one completed by a late second consumer, change nothing.
func testCompleteDeletesJob(t *testing.T, _ Harness, f Fixture) {
	q := f.Queue("a")
	done := f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1", "env": `{"SECRET":"s3cr3t"}`})
	open := f.Add(f.StartStream, map[string]string{"game_id": "g2", "image_ref": "e:1"})
	stop := f.Add(f.StopStream, map[string]string{"game_id": "g1", "reason": "admin_request"})
	jobs := MustRead(t, q, 3)
	byID := map[string]ports.Job{}
	for _, j := range jobs {
		byID[key(j.Stream, j.ID)] = j
	}
	mustComplete(t, q, byID[key(f.StartStream, done)], result(byID[key(f.StartStream, done)], "g1"))
	if d := cmp.Diff([]string{open}, f.IDs(f.StartStream)); d != "" {
		t.Fatalf("start stream after one result (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{stop}, f.IDs(f.StopStream)); d != "" {
		t.Fatalf("stop stream before its result (-want +got):\n%s", d)
	}
	mustComplete(t, q, byID[key(f.StopStream, stop)], result(byID[key(f.StopStream, stop)], "g1"))
	mustComplete(t, q, byID[key(f.StartStream, done)], result(byID[key(f.StartStream, done)], "g1")) // again: no-op
	if ids := f.IDs(f.StopStream); len(ids) != 0 {
		t.Fatalf("stop stream after its result holds %v, want nothing", ids)
	}
	if d := cmp.Diff([]string{open}, f.IDs(f.StartStream)); d != "" {
		t.Fatalf("start stream (-want +got):\n%s", d)
	}
	if n := len(f.Results()); n != 2 {
		t.Fatalf("%d results, want 2", n)
	}
	mustPending(t, f, q, 1, 0)
}

// testResultsTrimmed: the results stream stays near MaxLen however many
// jobs complete, and keeps the newest results.
func testResultsTrimmed(t *testing.T, _ Harness, f Fixture) {
	if f.MaxLen <= 0 {
		t.Skip("the fixture sets no MaxLen")
	}
	q := f.Queue("a")
	total := int(3*f.MaxLen) + 2*nodeSlack
	for i := range total {
		f.Add(f.StartStream, map[string]string{"game_id": fmt.Sprint("g", i)})
	}
	var last ports.Job
	for done := 0; done < total; {
		jobs := MustRead(t, q, min(100, total-done))
		for _, j := range jobs {
			mustComplete(t, q, j, result(j, j.Fields["game_id"]))
			last = j
		}
		done += len(jobs)
	}
	got := f.Results()
	if n := int64(len(got)); n < f.MaxLen || n > f.MaxLen+nodeSlack {
		t.Fatalf("results stream holds %d entries after %d results, want %d..%d (MAXLEN ~ %d)",
			n, total, f.MaxLen, f.MaxLen+nodeSlack, f.MaxLen)
	}
	if newest := got[len(got)-1]; newest["job_id"] != last.ID {
		t.Fatalf("newest result is for job %s, want %s", newest["job_id"], last.ID)
	}
	if ids := f.IDs(f.StartStream); len(ids) != 0 {
		t.Fatalf("%d job entries left after every result was written", len(ids))
	}
}

// claimUntil claims with q until it gets one job or 10s pass.
func claimUntil(t *testing.T, h Harness, q ports.JobQueue) ports.Job {
	t.Helper()
	ctx := ctxT(t)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		jobs, err := q.Claim(ctx, h.ClaimIdle, 10)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if len(jobs) == 1 {
			return jobs[0]
		}
		if len(jobs) > 1 {
			t.Fatalf("Claim returned %d jobs, want 1", len(jobs))
		}
		time.Sleep(h.ClaimIdle / 4) // poll interval; the condition is the claim itself
	}
	t.Fatalf("no job claimed within 10s")
	return ports.Job{}
}

// testClaimCountsDeliveries: every claim is one more delivery, exactly,
// and touches in between count none (the dead-letter rule relies on it).
func testClaimCountsDeliveries(t *testing.T, h Harness, f Fixture) {
	qs := []ports.JobQueue{f.Queue("a"), f.Queue("b")}
	id := f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	j := MustRead(t, qs[0], 1)[0]
	var got []int64
	for i := range 4 {
		for range 3 {
			if err := qs[i%2].Touch(ctxT(t), []ports.Job{j}); err != nil {
				t.Fatalf("Touch: %v", err)
			}
		}
		j = claimUntil(t, h, qs[(i+1)%2])
		if j.ID != id {
			t.Fatalf("claimed job %s, want %s", j.ID, id)
		}
		got = append(got, j.Deliveries)
	}
	if d := cmp.Diff([]int64{2, 3, 4, 5}, got); d != "" {
		t.Fatalf("Deliveries of successive claims (-want +got):\n%s", d)
	}
}

// testStaleTouchKeepsClaim: a consumer whose job was claimed by another
// (it stalled longer than ClaimIdle) and that then touches its old copy
// neither takes the job back nor lowers its delivery count.
func testStaleTouchKeepsClaim(t *testing.T, h Harness, f Fixture) {
	a, b, c := f.Queue("a"), f.Queue("b"), f.Queue("c")
	f.Add(f.StartStream, map[string]string{"game_id": "g1", "image_ref": "e:1"})
	ja := MustRead(t, a, 1)[0]
	jb := claimUntil(t, h, b)
	if err := a.Touch(ctxT(t), []ports.Job{ja}); err != nil {
		t.Fatalf("stale Touch: %v", err)
	}
	jc := claimUntil(t, h, c) // b went silent: its claim goes idle, a's touch must not have refreshed it
	if jc.ID != ja.ID || jc.Deliveries != jb.Deliveries+1 {
		t.Fatalf("after a stale touch, claim got %s with Deliveries %d; want %s with %d",
			jc.ID, jc.Deliveries, ja.ID, jb.Deliveries+1)
	}
	mustComplete(t, c, jc, result(jc, "g1"))
	if ids := f.IDs(f.StartStream); len(ids) != 0 {
		t.Fatalf("job entries %v left after the result", ids)
	}
}
