package lifecycle_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

func TestPrePullErrors(t *testing.T) {
	for _, tc := range []struct {
		name, ref string
		pullErr   error
		code      core.Code
		message   string
	}{
		{"hostile reference", "engine:b; rm -rf /", nil, core.CodeInvalidRequest, "image_ref"},
		{"empty reference", "", nil, core.CodeInvalidRequest, "empty"},
		{"unknown image", imgB, ports.ErrImageNotFound, core.CodeImageUnavailable, "not found"},
		{"registry refuses", imgB, ports.ErrImageUnauthorized, core.CodeImageUnavailable, "unauthorized"},
		{"runtime down", imgB, ports.ErrUnavailable, core.CodeServiceUnavailable, "prepare image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, reg := imageWorld(t, core.PullIfNotPresent, nil)
			reg.err = tc.pullErr
			img, err := w.svc.Images.Pull(w.ctx, tc.ref)
			if core.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.message) || img != (ports.Image{}) {
				t.Fatalf("Pull(%q) = %+v, %v; want %s mentioning %q", tc.ref, img, err, tc.code, tc.message)
			}
			if tc.pullErr == nil && reg.pulls != 0 {
				t.Errorf("a refused reference was pulled %d times", reg.pulls)
			}
		})
	}
}

// TestPrePullCallerLeaves: a caller whose context ends stops waiting at
// once (service_unavailable), while the pull, detached from its caller,
// goes on and completes.
func TestPrePullCallerLeaves(t *testing.T) {
	w, reg := imageWorld(t, core.PullIfNotPresent, nil)
	reg.gate = make(chan struct{})
	ctx, cancel := context.WithCancel(w.ctx)
	first := make(chan error, 1)
	go func() {
		_, err := w.svc.Images.Pull(ctx, imgB)
		first <- err
	}()
	<-reg.pulled // the pull is under way
	cancel()
	if err := <-first; core.CodeOf(err) != core.CodeServiceUnavailable || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("the leaving caller got %v, want service_unavailable for its cancelled context", err)
	}
	close(reg.gate)
	waitFor(t, "the abandoned pull to complete", func() bool { return reg.has(imgB) })
	if pulls, _ := reg.stats(imgB); pulls != 1 {
		t.Errorf("%d pulls, want 1", pulls)
	}
	// A start now finds the image local and pulls nothing more.
	w.expectOK(w.start("g", imgB), "")
	if pulls, _ := reg.stats(imgB); pulls != 1 {
		t.Errorf("%d pulls after the start, want 1", pulls)
	}
}

// panickyRegistry panics in its first PullImage.
type panickyRegistry struct {
	*registry
	panicked atomic.Bool
}

func (r *panickyRegistry) PullImage(ctx context.Context, ref string) (ports.Image, error) {
	if r.panicked.CompareAndSwap(false, true) {
		panic("registry client bug")
	}
	return r.registry.PullImage(ctx, ref)
}

// TestPrePullPanics: a panicking pull is an image_unavailable failure for
// its callers, not a crash, and the next pull of the image runs afresh.
func TestPrePullPanics(t *testing.T) {
	var reg *panickyRegistry
	w := newWorld(t, func(d *lifecycle.Deps) {
		reg = &panickyRegistry{registry: newRegistry(d.Driver.(*fakedriver.Driver), imgA)}
		d.Driver = reg
		d.Config.PullTimeout = 5 * time.Second
	})
	if _, err := w.svc.Images.Pull(w.ctx, imgB); core.CodeOf(err) != core.CodeImageUnavailable || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Pull with a panicking registry = %v, want image_unavailable saying it panicked", err)
	}
	if img, err := w.svc.Images.Pull(w.ctx, imgB); err != nil || !reg.has(imgB) {
		t.Fatalf("the next Pull = %+v, %v; want the image pulled", img, err)
	}
}
