package lifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/probe"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// timedProber records when each probe of the real prober began.
type timedProber struct {
	ports.Prober
	mu    sync.Mutex
	times []time.Time
}

func (p *timedProber) Probe(ctx context.Context, endpoint string) error {
	p.mu.Lock()
	p.times = append(p.times, time.Now())
	p.mu.Unlock()
	return p.Prober.Probe(ctx, endpoint)
}

// countingDriver counts Inspect calls.
type countingDriver struct {
	ports.RuntimeDriver
	mu       sync.Mutex
	inspects int
}

func (d *countingDriver) Inspect(ctx context.Context, id string) (ports.Container, error) {
	d.mu.Lock()
	d.inspects++
	d.mu.Unlock()
	return d.RuntimeDriver.Inspect(ctx, id)
}

// TestReadinessBackoff: a start probes the engine at once and, while it
// misses, again after a few milliseconds, not only every ReadyPoll (issue
// 17, P1: a player waits on the start). It runs the real Docker driver and
// prober on the test engine told to listen 150 ms after it starts, with a
// ReadyPoll of 2 s: the second probe must come well before one ReadyPoll.
// After a pause the start probes before it inspects: the probe that
// succeeds costs no inspect.
func TestReadinessBackoff(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	drv, err := docker.New(ctx, docker.Config{Host: host})
	if err != nil {
		testenv.Missing(t, "docker at %s: %v", host, err)
	}
	defer drv.Close()
	real, err := probe.New(probe.Config{})
	if err != nil {
		t.Fatal(err)
	}
	prober := &timedProber{Prober: real}
	counted := &countingDriver{RuntimeDriver: drv}
	store := memory.NewStore()
	scope := "ready" + testenv.RandomSuffix(4)
	svc, err := lifecycle.New(lifecycle.Deps{
		Records: store, Operations: store, Leases: memory.NewLeases(time.Now), Driver: counted,
		Health: memory.NewHealthRecorder(), Snapshots: store, Prober: prober,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Config: lifecycle.Config{Scope: scope, StartTimeout: time.Minute, ReadyPoll: 2 * time.Second, StopTimeout: time.Second},
	})
	if err != nil {
		t.Fatalf("lifecycle.New: %v", err)
	}
	game := "ready-" + testenv.RandomSuffix(4)
	t.Cleanup(func() {
		cs, _ := drv.List(context.Background(), map[string]string{ports.LabelGameID: game})
		for _, c := range cs {
			_ = drv.Remove(context.Background(), c.ID)
		}
	})
	res, err := svc.Start.Handle(ctx, lifecycle.StartInput{GameID: game, ImageRef: image,
		Env:  map[string]string{"ENGINE_START_DELAY": "150ms"},
		Meta: lifecycle.Meta{Source: core.SourceREST, SourceRef: "ready"}})
	if err != nil || res.Err() != nil {
		t.Fatalf("start: %v %v", err, res.Err())
	}
	prober.mu.Lock()
	defer prober.mu.Unlock()
	if len(prober.times) < 2 {
		t.Skipf("the engine answered the first probe (%d probes): the machine took over 150 ms to start it", len(prober.times))
	}
	if gap := prober.times[1].Sub(prober.times[0]); gap >= time.Second {
		t.Fatalf("second probe %s after the first: the start waited a whole ReadyPoll (2s)", gap)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if want := len(prober.times) - 2; counted.inspects != want {
		t.Errorf("%d inspects for %d probes, want %d (one after each missed probe but the first)",
			counted.inspects, len(prober.times), want)
	}
	t.Logf("%d probes; first gap %s; ready %s after the first probe", len(prober.times),
		prober.times[1].Sub(prober.times[0]), prober.times[len(prober.times)-1].Sub(prober.times[0]))
}
