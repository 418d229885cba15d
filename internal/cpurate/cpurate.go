// Package cpurate turns cumulative CPU time samples into a CPU percentage
// (of one CPU) per container, for drivers whose runtime reports only the
// counter (containerd's cgroup metrics, the process plugin's /proc).
package cpurate

import (
	"context"
	"sync"
	"time"
)

// Bounds of a Tracker: a sample older than TTL is not used, and once the
// tracker holds MaxEntries samples, stale ones are dropped.
const (
	TTL        = 5 * time.Minute
	MaxEntries = 4096
	// FirstInterval is how long Sample waits between the two counter reads
	// of a container it has no recent sample of.
	FirstInterval = 250 * time.Millisecond
)

type sample struct {
	ns uint64
	at time.Time
}

// Tracker remembers the last CPU counter of each container. The zero value
// is ready; it is safe for concurrent use.
type Tracker struct {
	mu   sync.Mutex
	last map[string]sample
}

// Sample reads the container's cumulative CPU time in ns with read and
// returns the CPU use since the last sample of id, in percent of one CPU.
// Without a recent previous sample it reads twice, FirstInterval apart.
// It returns nil (and no error) when the counter went backwards.
func (t *Tracker) Sample(ctx context.Context, id string, read func() (uint64, error)) (*float64, error) {
	t.mu.Lock()
	prev, ok := t.last[id]
	t.mu.Unlock()
	if !ok || time.Since(prev.at) > TTL {
		ns, err := read()
		if err != nil {
			return nil, err
		}
		prev = sample{ns, time.Now()}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(FirstInterval):
		}
	}
	ns, err := read()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	t.mu.Lock()
	if t.last == nil {
		t.last = make(map[string]sample)
	}
	if len(t.last) >= MaxEntries {
		for k, v := range t.last {
			if now.Sub(v.at) > TTL || len(t.last) >= MaxEntries {
				delete(t.last, k)
			}
		}
	}
	t.last[id] = sample{ns, now}
	t.mu.Unlock()
	if ns < prev.ns || !now.After(prev.at) {
		return nil, nil
	}
	p := float64(ns-prev.ns) / float64(now.Sub(prev.at).Nanoseconds()) * 100
	return &p, nil
}
