package lifecycle_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// registry is a fake image store over the fake driver: images in local are
// present; PullImage fails with err when set, otherwise waits for gate (when
// set) and makes the image local.
type registry struct {
	*fakedriver.Driver
	mu     sync.Mutex
	local  map[string]bool
	err    error
	gate   chan struct{}
	pulls  int
	looks  map[string]int
	pulled chan string
}

var _ ports.ImageStore = (*registry)(nil)

func newRegistry(d *fakedriver.Driver, local ...string) *registry {
	r := &registry{Driver: d, local: map[string]bool{}, looks: map[string]int{}, pulled: make(chan string, 100)}
	for _, l := range local {
		r.local[l] = true
	}
	return r
}

func (r *registry) LocalImage(_ context.Context, ref string) (ports.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.looks[ref]++
	if !r.local[ref] {
		return ports.Image{}, fmt.Errorf("image %s: %w", ref, ports.ErrNotFound)
	}
	return ports.Image{Ref: ref, Digest: "sha256:local"}, nil
}

func (r *registry) PullImage(ctx context.Context, ref string) (ports.Image, error) {
	r.mu.Lock()
	r.pulls++
	gate, err := r.gate, r.err
	r.mu.Unlock()
	r.pulled <- ref
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ports.Image{}, fmt.Errorf("pull %s: %w", ref, ports.ErrPullTimeout)
		}
	}
	if err != nil {
		return ports.Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.local[ref] = true
	return ports.Image{Ref: ref, Digest: "sha256:pulled", SizeBytes: 42}, nil
}

func (r *registry) Images(context.Context) ([]ports.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ports.Image
	for ref := range r.local {
		out = append(out, ports.Image{Ref: ref})
	}
	return out, nil
}

func (r *registry) RemoveImage(_ context.Context, ref string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.local, ref)
	return nil
}

func (r *registry) has(ref string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.local[ref]
}

func (r *registry) stats(ref string) (pulls, looks int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pulls, r.looks[ref]
}

// imageWorld is a world whose driver has the fake image store reg.
func imageWorld(t *testing.T, policy core.PullPolicy, tel ports.Telemetry) (*world, *registry) {
	var reg *registry
	w := newWorld(t, func(d *lifecycle.Deps) {
		reg = newRegistry(d.Driver.(*fakedriver.Driver), imgA)
		d.Driver = reg
		d.Config.PullPolicy = policy
		d.Config.PullTimeout = 5 * time.Second
		d.Telemetry = tel
	})
	return w, reg
}

// TestPatchPullsBeforeTheLease: while a patch's image pull is in progress,
// the game's lease is free (a stop of the game goes through) and its engine
// still runs the old image.
func TestPatchPullsBeforeTheLease(t *testing.T) {
	w, reg := imageWorld(t, core.PullIfNotPresent, nil)
	w.seed("g", core.StatusRunning)
	reg.gate = make(chan struct{})
	done := make(chan lifecycle.Result, 1)
	go func() { done <- w.patch("g", imgB) }()
	select {
	case <-reg.pulled:
	case r := <-done:
		t.Fatalf("the patch ended before pulling: %+v", r)
	}
	if rec, err := w.store.Get(w.ctx, "g"); err != nil || rec.Status != core.StatusRunning || rec.ImageRef != imgA {
		t.Errorf("during the pull the game is %+v (%v), want running %s", rec, err, imgA)
	}
	w.expectOK(w.stop("g"), "")
	close(reg.gate)
	w.expectOK(<-done, "")
}

// TestConcurrentStartsShareOnePull: ten starts of new games needing one
// missing image all wait on a single pull.
func TestConcurrentStartsShareOnePull(t *testing.T) {
	w, reg := imageWorld(t, core.PullIfNotPresent, nil)
	reg.gate = make(chan struct{})
	const n = 10
	results := make(chan lifecycle.Result, n)
	for i := range n {
		go func() { results <- w.start(fmt.Sprintf("g%d", i), imgB) }()
	}
	// Release the pull only once every start has found the image missing.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, looks := reg.stats(imgB); looks >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the starts never all looked for the image")
		}
		time.Sleep(time.Millisecond)
	}
	close(reg.gate)
	for range n {
		w.expectOK(<-results, "")
	}
	if pulls, _ := reg.stats(imgB); pulls != 1 {
		t.Errorf("%d concurrent starts made %d pulls, want 1", n, pulls)
	}
}

// pullCounter is a telemetry recording image pull results.
type pullCounter struct {
	ports.NopTelemetry
	mu      sync.Mutex
	results map[string]int
}

func (p *pullCounter) ImagePull(_ context.Context, result string, _ time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.results == nil {
		p.results = map[string]int{}
	}
	p.results[result]++
}

func (p *pullCounter) count(result string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.results[result]
}

// TestPullPolicies: each policy's rule, the image_unavailable reasons and
// the metric results.
func TestPullPolicies(t *testing.T) {
	t.Run("never", func(t *testing.T) {
		w, reg := imageWorld(t, core.PullNever, nil)
		w.expectOK(w.start("a", imgA), "")
		r := w.start("b", imgB)
		w.expectFail(r, core.CodeImageUnavailable)
		if !strings.Contains(r.ErrorMessage, "pull policy is never") {
			t.Errorf("message %q does not name the policy", r.ErrorMessage)
		}
		if pulls, _ := reg.stats(imgB); pulls != 0 {
			t.Errorf("policy never pulled %d times", pulls)
		}
	})
	t.Run("always", func(t *testing.T) {
		tel := &pullCounter{}
		w, reg := imageWorld(t, core.PullAlways, tel)
		w.expectOK(w.start("a", imgA), "")
		w.expectOK(w.restart("a"), "")
		if pulls, _ := reg.stats(imgA); pulls != 2 || tel.count(lifecycle.PullSuccess) != 2 {
			t.Errorf("policy always: %d pulls, %d counted, want 2 (start and restart)", pulls, tel.count(lifecycle.PullSuccess))
		}
		reg.err = ports.ErrRegistryUnreachable
		w.expectOK(w.start("b", imgA), "")
		if tel.count(lifecycle.PullLocalFallback) != 1 {
			t.Errorf("local fallback counted %d times, want 1", tel.count(lifecycle.PullLocalFallback))
		}
		r := w.start("c", imgB)
		w.expectFail(r, core.CodeImageUnavailable)
		if !strings.Contains(r.ErrorMessage, "registry unreachable") {
			t.Errorf("message %q does not say the registry is unreachable", r.ErrorMessage)
		}
	})
	for _, c := range []struct {
		err    error
		reason string
		result string
	}{
		{ports.ErrImageNotFound, "not found", "not_found"},
		{ports.ErrImageUnauthorized, "unauthorized", "unauthorized"},
		{ports.ErrRegistryUnreachable, "registry unreachable", "unreachable"},
		{ports.ErrPullTimeout, "timeout", "timeout"},
		{ports.ErrImageUnavailable, "cannot be pulled", "error"},
	} {
		t.Run(c.result, func(t *testing.T) {
			tel := &pullCounter{}
			w, reg := imageWorld(t, core.PullIfNotPresent, tel)
			reg.err = c.err
			r := w.start("g", imgB)
			w.expectFail(r, core.CodeImageUnavailable)
			if want := "image " + imgB + " unavailable: " + c.reason; !strings.HasPrefix(r.ErrorMessage, want) {
				t.Errorf("message %q, want it to start %q", r.ErrorMessage, want)
			}
			if tel.count(c.result) != 1 {
				t.Errorf("metric results %v, want one %s", tel.results, c.result)
			}
		})
	}
}

// TestPrePull: Images.Pull checks the allow-list and answers digest and
// size; a driver without an image store answers unsupported.
func TestPrePull(t *testing.T) {
	w, _ := imageWorld(t, core.PullNever, nil)
	img, err := w.svc.Images.Pull(w.ctx, imgB)
	if err != nil || img.Digest != "sha256:pulled" || img.SizeBytes != 42 {
		t.Errorf("Pull = %+v, %v", img, err)
	}
	allow, _ := core.ParseImageAllow("engine:a")
	w2 := newWorld(t, func(d *lifecycle.Deps) { d.Config.Allow = allow })
	if _, err := w2.svc.Images.Pull(w2.ctx, imgB); core.CodeOf(err) != core.CodeForbidden {
		t.Errorf("Pull outside the allow-list = %v, want forbidden", err)
	}
	if _, err := w2.svc.Images.Pull(w2.ctx, imgA); core.CodeOf(err) != core.CodeUnsupported {
		t.Errorf("Pull on a driver without an image store = %v, want unsupported", err)
	}
}

// TestImageGC: only allow-listed images unused (by any container or any
// record that is not removed) for the GC age are removed.
func TestImageGC(t *testing.T) {
	const (
		imgOld   = "engine:old"
		imgOther = "other:1"
	)
	allow, err := core.ParseImageAllow("engine:*")
	if err != nil {
		t.Fatal(err)
	}
	var reg *registry
	w := newWorld(t, func(d *lifecycle.Deps) {
		reg = newRegistry(d.Driver.(*fakedriver.Driver), imgA, imgB, imgOld, imgOther)
		d.Driver = reg
		d.Config.Allow = allow
	})
	w.seed("running", core.StatusRunning) // a container on imgA
	// A live record that names imgB and has no container (yet).
	rec := core.Record{GameID: "reserved"}.Starting(imgB, nil, w.clock.Now())
	if err := w.store.Create(w.ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.NewImageGC(0); err == nil {
		t.Error("NewImageGC(0) succeeded")
	}
	gc, err := w.svc.NewImageGC(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pass := func() []lifecycle.RemovedImage {
		t.Helper()
		removed, err := gc.Pass(w.ctx)
		if err != nil {
			t.Fatalf("Pass: %v", err)
		}
		return removed
	}
	if got := pass(); len(got) != 0 {
		t.Errorf("first pass removed %+v; an image is only removed after the age", got)
	}
	w.clock.Advance(59 * time.Minute)
	if got := pass(); len(got) != 0 {
		t.Errorf("pass before the age removed %+v", got)
	}
	w.clock.Advance(2 * time.Minute)
	got := pass()
	if len(got) != 1 || got[0].Ref != imgOld || got[0].UnusedFor < time.Hour {
		t.Errorf("pass after the age removed %+v, want only %s", got, imgOld)
	}
	for _, kept := range []string{imgA, imgB, imgOther} {
		if !reg.has(kept) {
			t.Errorf("GC removed %s", kept)
		}
	}
	noAllow := newWorld(t)
	if _, err := noAllow.svc.NewImageGC(time.Hour); err == nil {
		t.Error("NewImageGC with an empty allow-list succeeded")
	}
}
