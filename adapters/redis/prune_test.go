package redis

import (
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// consumers returns the consumer names of the group on stream.
func consumers(t *testing.T, c *Client, stream string) map[string]bool {
	t.Helper()
	infos, err := c.rc.Do(testCtx(t), c.rc.B().XinfoConsumers().Key(stream).Group(c.streams.Group).Build()).ToArray()
	if err != nil {
		t.Fatalf("XINFO CONSUMERS: %v", err)
	}
	out := map[string]bool{}
	for _, info := range infos {
		m, _ := info.AsMap()
		name := m["name"]
		n, _ := name.ToString()
		out[n] = true
	}
	return out
}

// TestClaimPrunesDeadConsumers: consumers that hold no pending entry and
// have been silent for pruneAfter claim-idle periods are deleted; a dead
// consumer's pending entry is claimed first, so nothing is lost.
func TestClaimPrunesDeadConsumers(t *testing.T) {
	// Only on redis-server: miniredis does not track consumer idle times
	// (and the embedded server's state does not outlive its process, so it
	// never accumulates dead consumers).
	for _, b := range backends[:1] {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.url(t)
			c := MustConnect(t, url, scratchOptions(t, url))
			ctx := testCtx(t)
			s := c.Streams()
			done, stuck, live := mustQueue(t, c, "done-1"), mustQueue(t, c, "stuck-1"), mustQueue(t, c, "live-1")
			xadd(t, c, s.StartJobs, map[string]string{"game_id": "g1", "image_ref": "i"})
			jobs, err := done.Read(ctx, 1, 100*time.Millisecond)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("read = %v, %v", jobs, err)
			}
			if err := done.Complete(ctx, jobs[0], ports.JobResult{GameID: "g1", OpKind: core.OpStart, Outcome: core.OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
			xadd(t, c, s.StartJobs, map[string]string{"game_id": "g2", "image_ref": "i"})
			if jobs, err := stuck.Read(ctx, 1, 100*time.Millisecond); err != nil || len(jobs) != 1 {
				t.Fatalf("read = %v, %v", jobs, err)
			}
			const minIdle = 20 * time.Millisecond // prune after 200 ms of silence
			deadline := time.Now().Add(20 * time.Second)
			var claimed []ports.Job
			for consumers(t, c, s.StartJobs)["done-1"] {
				if time.Now().After(deadline) {
					t.Fatal("the finished consumer was never pruned")
				}
				got, err := live.Claim(ctx, minIdle, 10)
				if err != nil {
					t.Fatal(err)
				}
				claimed = append(claimed, got...)
				time.Sleep(20 * time.Millisecond)
			}
			ids := map[string]bool{}
			for _, j := range claimed {
				ids[j.ID] = true
			}
			if len(ids) != 1 || claimed[0].Fields["game_id"] != "g2" {
				t.Errorf("claimed %+v, want stuck-1's job g2", claimed)
			}
			if names := consumers(t, c, s.StartJobs); !names["live-1"] {
				t.Errorf("consumers after pruning = %v, want the claiming consumer kept", names)
			}
		})
	}
}

func mustQueue(t *testing.T, c *Client, consumer string) *Queue {
	t.Helper()
	q, err := c.Queue(testCtx(t), consumer)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
