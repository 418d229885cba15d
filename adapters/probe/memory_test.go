package probe_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/probe"
)

// TestNoStatePerEndpoint probes thousands of distinct loopback endpoints
// where nobody listens (engines that died, or a fleet not yet up) and
// checks that the prober keeps no state per endpoint afterwards: with 10,000
// games, state kept per endpoint between probe rounds is RSS that grows with
// the fleet (a keep-alive transport queues a waiter per host that never got
// a connection).
func TestNoStatePerEndpoint(t *testing.T) {
	const n = 4000
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nobody listens on port now, on any 127.x address
	endpoints := func(second int) []string {
		eps := make([]string, n)
		for i := range eps {
			eps[i] = fmt.Sprintf("127.%d.%d.%d:%d", second, i/250, 1+i%250, port)
		}
		return eps
	}
	round := func(p *probe.Prober, eps []string) {
		work := make(chan string)
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ep := range work {
					if err := p.Probe(context.Background(), ep); err == nil {
						t.Errorf("probe of %s where nobody listens succeeded", ep)
					}
				}
			}()
		}
		for _, ep := range eps {
			work <- ep
		}
		close(work)
		wg.Wait()
	}
	// Warm up (goroutine stacks, pools) with another prober and endpoints.
	round(mustNew(t, probe.Config{}), endpoints(1))
	p := mustNew(t, probe.Config{})
	before := heapAfterGC()
	round(p, endpoints(2))
	after := heapAfterGC()
	runtime.KeepAlive(p)
	perEndpoint := (int64(after) - int64(before)) / n
	t.Logf("live heap %d → %d bytes over one round of %d endpoints: %d bytes per endpoint", before, after, n, perEndpoint)
	if perEndpoint > 64 {
		t.Errorf("the prober keeps %d bytes per endpoint after a round, want none", perEndpoint)
	}
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
