package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// memInUse returns heap and stack in use after a GC, and VmRSS.
func memInUse() (inUse, rss int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			rss = kb << 10
		}
	}
	return int64(ms.HeapInuse + ms.StackInuse), rss
}

// TestFollowerCost: 50 followers of one engine on Docker cost < 1 MiB each
// (server and client of this process together, so an upper bound), and
// the figures of operation latency with and without them are logged for
// docs/BENCHMARKS.md.
func TestFollowerCost(t *testing.T) {
	const followers = 50
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	s := serveMain(t, map[string]string{"RTMANAGER_DOCKER_HOST": host})
	watched, busy := "fol-"+testenv.RandomSuffix(3), "fol-op-"+testenv.RandomSuffix(3)
	removeGames(t, watched, busy)
	for _, g := range []string{watched, busy} {
		if st, res := post(t, s.base+g+"/start", map[string]any{"image_ref": image}); st != 200 {
			t.Fatalf("start %s = %d %v", g, st, res)
		}
	}
	t.Cleanup(func() {
		for _, g := range []string{watched, busy} {
			post(t, s.base+g+"/stop", map[string]any{"reason": "admin_request"})
		}
	})
	latency := func() time.Duration {
		var ds []time.Duration
		for range 5 {
			began := time.Now()
			if st, res := post(t, s.base+busy+"/restart", map[string]any{}); st != 200 {
				t.Fatalf("restart = %d %v", st, res)
			}
			ds = append(ds, time.Since(began))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	before := latency()
	heap0, rss0 := memInUse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{}, followers)
	for range followers {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+watched+"/logs?follow=true&tail=1", nil)
		resp, err := noKeepAlive.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("follower: %v %v", resp, err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	for range 20 { // lines flow to every follower while operations run
		s.say(watched, "stdout", "chatter")
	}
	heap1, rss1 := memInUse()
	with := latency()
	cancel()
	for range followers {
		<-done
	}
	perHeap, perRSS := (heap1-heap0)/followers, (rss1-rss0)/followers
	t.Logf("%d followers: heap+stack %+d KiB each, RSS %+d KiB each; restart median %s without, %s with",
		followers, perHeap>>10, perRSS>>10, before.Round(time.Millisecond), with.Round(time.Millisecond))
	if perHeap > 1<<20 {
		t.Errorf("a follower costs %d KiB of heap and stack, want < 1 MiB", perHeap>>10)
	}
}
