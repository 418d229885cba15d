package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2/server"
	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestReadOddReplies feeds Read replies no real Redis sends (an odd field
// count, a missing field list, an entry without fields, non-string items)
// and checks that the decoder neither crashes nor drops well-formed jobs.
func TestReadOddReplies(t *testing.T) {
	e := MustStartEmbedded(t)
	opts := scratchOptions(t, e.URL())
	c := MustConnect(t, e.URL(), opts)
	q, err := c.Queue(testCtx(t), "a")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	s := c.Streams()
	e.mr.Server().SetPreHook(func(p *server.Peer, cmd string, _ ...string) bool {
		if !strings.EqualFold(cmd, "XREADGROUP") {
			return false
		}
		p.WriteLen(2)
		p.WriteLen(2)
		p.WriteBulk(s.StartJobs)
		p.WriteLen(5)
		// 1: odd field count.
		p.WriteLen(2)
		p.WriteBulk("1-1")
		p.WriteLen(3)
		p.WriteBulk("game_id")
		p.WriteBulk("g1")
		p.WriteBulk("dangling")
		// 2: nil field list.
		p.WriteLen(2)
		p.WriteBulk("1-2")
		p.WriteNull()
		// 3: id only.
		p.WriteLen(1)
		p.WriteBulk("1-3")
		// 4: no id at all: skipped.
		p.WriteLen(0)
		// 5: an integer value: that pair is dropped.
		p.WriteLen(2)
		p.WriteBulk("1-5")
		p.WriteLen(4)
		p.WriteBulk("n")
		p.WriteInt(7)
		p.WriteBulk("ok")
		p.WriteBulk("yes")
		p.WriteLen(2)
		p.WriteBulk(s.StopJobs)
		p.WriteLen(0)
		return true
	})
	jobs, err := q.Read(testCtx(t), 10, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := []ports.Job{
		{Stream: s.StartJobs, ID: "1-1", Seq: core.JobSeq{Millis: 1, Seq: 1}, Fields: map[string]string{"game_id": "g1"}, Deliveries: 1},
		{Stream: s.StartJobs, ID: "1-2", Seq: core.JobSeq{Millis: 1, Seq: 2}, Fields: map[string]string{}, Deliveries: 1},
		{Stream: s.StartJobs, ID: "1-3", Seq: core.JobSeq{Millis: 1, Seq: 3}, Fields: map[string]string{}, Deliveries: 1},
		{Stream: s.StartJobs, ID: "1-5", Seq: core.JobSeq{Millis: 1, Seq: 5}, Fields: map[string]string{"ok": "yes"}, Deliveries: 1},
	}
	if d := cmp.Diff(want, jobs); d != "" {
		t.Fatalf("jobs (-want +got):\n%s", d)
	}
}
