package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// flakyRegistry is the fake image store with failures to inject into
// listing and removing images.
type flakyRegistry struct {
	*registry
	imagesErr error
	removeErr error
}

func (r *flakyRegistry) Images(ctx context.Context) ([]ports.Image, error) {
	if r.imagesErr != nil {
		return nil, r.imagesErr
	}
	return r.registry.Images(ctx)
}

func (r *flakyRegistry) RemoveImage(ctx context.Context, ref string) error {
	if r.removeErr != nil {
		return r.removeErr
	}
	return r.registry.RemoveImage(ctx, ref)
}

func (r *flakyRegistry) add(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.local[ref] = true
}

func (r *flakyRegistry) drop(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.local, ref)
}

// gcWorld is a world with an image store holding local and an image GC of
// age one hour over the allow-list engine:*.
func gcWorld(t *testing.T, local ...string) (*world, *flakyRegistry, *lifecycle.ImageGC) {
	t.Helper()
	var reg *flakyRegistry
	w := newWorld(t, func(d *lifecycle.Deps) {
		drv := d.Driver.(*fakedriver.Driver)
		for _, ref := range local {
			drv.AddImage(ref, fakedriver.Behavior{})
		}
		reg = &flakyRegistry{registry: newRegistry(drv, local...)}
		d.Driver = reg
		d.Config.Allow = core.MustParseImageAllow("engine:*")
	})
	gc, err := w.svc.NewImageGC(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return w, reg, gc
}

func gcPass(t *testing.T, w *world, gc *lifecycle.ImageGC) []string {
	t.Helper()
	removed, err := gc.Pass(w.ctx)
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	var refs []string
	for _, r := range removed {
		refs = append(refs, r.Ref)
	}
	slices.Sort(refs)
	return refs
}

// TestImageGCKeepsImagesInUse: an image a stopped container keeps, one a
// container of another scope runs, and one a live record names are never
// removed; one whose game was cleaned up is.
func TestImageGCKeepsImagesInUse(t *testing.T) {
	const (
		imgStopped = "engine:stopped"
		imgBlue    = "engine:blue"
		imgCleaned = "engine:cleaned"
	)
	w, reg, gc := gcWorld(t, imgA, imgStopped, imgBlue, imgCleaned, "<none>:<none>", "other:1")
	w.expectOK(w.start("running", imgA), "")
	w.expectOK(w.start("stopped", imgStopped), "")
	w.expectOK(w.stop("stopped"), "")
	w.expectOK(w.start("cleaned", imgCleaned), "")
	w.expectOK(w.stop("cleaned"), "")
	w.expectOK(w.cleanup("cleaned"), "")
	// Another instance's engine, in scope blue, on the same runtime.
	if _, err := w.drv.Start(w.ctx, ports.ContainerSpec{Name: "rtm-blue-x-1", Image: imgBlue, Labels: map[string]string{
		ports.LabelManaged: "true", ports.LabelScope: "blue", ports.LabelGameID: "x", ports.LabelImageRef: imgBlue}}); err != nil {
		t.Fatal(err)
	}

	if got := gcPass(t, w, gc); len(got) != 0 {
		t.Fatalf("first pass removed %v", got)
	}
	w.clock.Advance(61 * time.Minute)
	if got := gcPass(t, w, gc); !slices.Equal(got, []string{imgCleaned}) {
		t.Errorf("pass after the age removed %v, want only %s", got, imgCleaned)
	}
	for _, kept := range []string{imgA, imgStopped, imgBlue, "<none>:<none>", "other:1"} {
		if !reg.has(kept) {
			t.Errorf("GC removed %s", kept)
		}
	}
}

// TestImageGCCountsAfresh: an image used again, or gone and back, starts
// its unused time again.
func TestImageGCCountsAfresh(t *testing.T) {
	const imgC, imgD = "engine:c", "engine:d"
	w, reg, gc := gcWorld(t, imgC, imgD)
	gcPass(t, w, gc) // both unused from now

	w.clock.Advance(50 * time.Minute)
	w.expectOK(w.start("g", imgC), "")
	reg.drop(imgD) // removed by someone else
	if got := gcPass(t, w, gc); len(got) != 0 {
		t.Fatalf("pass removed %v", got)
	}
	w.expectOK(w.stop("g"), "")
	w.expectOK(w.cleanup("g"), "")
	reg.add(imgD)
	if got := gcPass(t, w, gc); len(got) != 0 { // both unused again from here
		t.Fatalf("pass removed %v", got)
	}
	w.clock.Advance(30 * time.Minute) // 80 minutes after the first pass
	if got := gcPass(t, w, gc); len(got) != 0 {
		t.Fatalf("pass removed %v though neither image was unused for an hour since it was last seen used or present", got)
	}
	w.clock.Advance(31 * time.Minute)
	removed, err := gc.Pass(w.ctx)
	if err != nil || len(removed) != 2 {
		t.Fatalf("Pass = %+v, %v; want both removed", removed, err)
	}
	for _, r := range removed {
		if r.UnusedFor != 61*time.Minute {
			t.Errorf("%s unused for %s, want 61m", r.Ref, r.UnusedFor)
		}
	}
}

func TestImageGCFailures(t *testing.T) {
	t.Run("a failed removal is retried on the next pass", func(t *testing.T) {
		w, reg, gc := gcWorld(t, "engine:old")
		gcPass(t, w, gc)
		w.clock.Advance(2 * time.Hour)
		reg.removeErr = fmt.Errorf("in use by a build: %w", ports.ErrConflict)
		if got := gcPass(t, w, gc); len(got) != 0 || !reg.has("engine:old") {
			t.Fatalf("pass with a failing removal removed %v", got)
		}
		reg.removeErr = nil
		if got := gcPass(t, w, gc); !slices.Equal(got, []string{"engine:old"}) {
			t.Errorf("next pass removed %v, want engine:old at once", got)
		}
	})
	for _, tc := range []struct {
		name   string
		inject func(w *world, reg *flakyRegistry)
		code   core.Code
	}{
		{"image listing down", func(_ *world, reg *flakyRegistry) {
			reg.imagesErr = fmt.Errorf("x: %w", ports.ErrUnavailable)
		}, core.CodeServiceUnavailable},
		{"image listing uncoded error", func(_ *world, reg *flakyRegistry) { reg.imagesErr = errors.New("boom") }, core.CodeServiceUnavailable},
		{"container listing down", func(w *world, _ *flakyRegistry) {
			w.drv.FailNext(fakedriver.MethodList, fmt.Errorf("x: %w", ports.ErrUnavailable))
		}, core.CodeServiceUnavailable},
		{"record listing down", func(w *world, _ *flakyRegistry) { w.store.FailNext(memory.MethodList, errDown) }, core.CodeServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, reg, gc := gcWorld(t, "engine:old")
			gcPass(t, w, gc)
			w.clock.Advance(2 * time.Hour)
			tc.inject(w, reg)
			if removed, err := gc.Pass(w.ctx); core.CodeOf(err) != tc.code || len(removed) != 0 {
				t.Fatalf("Pass = %v, %v; want %s and nothing removed", removed, err, tc.code)
			}
			if !reg.has("engine:old") {
				t.Error("a failed pass removed an image")
			}
		})
	}
	t.Run("a driver without an image store has nothing to collect", func(t *testing.T) {
		w := newWorld(t, func(d *lifecycle.Deps) { d.Config.Allow = core.MustParseImageAllow("engine:*") })
		gc, err := w.svc.NewImageGC(time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if removed, err := gc.Pass(w.ctx); err != nil || removed != nil {
			t.Errorf("Pass = %v, %v; want nothing", removed, err)
		}
	})
}

// TestImageGCReadsEveryRecordPage: the image of a live record past the
// first page of the record listing is in use too.
func TestImageGCReadsEveryRecordPage(t *testing.T) {
	w, reg, gc := gcWorld(t, "engine:last", "engine:old")
	for i := range 1200 {
		rec := core.Record{GameID: fmt.Sprintf("g%04d", i)}.Starting(imgA, nil, w.clock.Now())
		if i == 1199 {
			rec = core.Record{GameID: fmt.Sprintf("g%04d", i)}.Starting("engine:last", nil, w.clock.Now())
		}
		if err := w.store.Create(w.ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	gcPass(t, w, gc)
	w.clock.Advance(2 * time.Hour)
	if got := gcPass(t, w, gc); !slices.Equal(got, []string{"engine:old"}) || !reg.has("engine:last") {
		t.Errorf("pass removed %v, want only engine:old (engine:last is named by the last record)", got)
	}
}

// stuckLister is a record store whose listing cursor never advances.
type stuckLister struct{ *racingStore }

func (s stuckLister) List(ctx context.Context, q ports.ListQuery) ([]core.Record, string, error) {
	recs, _, err := s.racingStore.List(ctx, q)
	return recs, "g", err
}

// TestImageGCStuckCursor: a store whose cursor does not advance ends the
// pass with internal instead of looping forever, and removes nothing.
func TestImageGCStuckCursor(t *testing.T) {
	var reg *registry
	w := newWorld(t, func(d *lifecycle.Deps) {
		reg = newRegistry(d.Driver.(*fakedriver.Driver), "engine:old")
		d.Driver = reg
		d.Records = stuckLister{d.Records.(*racingStore)}
		d.Config.Allow = core.MustParseImageAllow("engine:*")
	})
	gc, err := w.svc.NewImageGC(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Pass(w.ctx); core.CodeOf(err) != core.CodeInternal {
		t.Fatalf("Pass = %v, want internal", err)
	}
	if !reg.has("engine:old") {
		t.Error("a failed pass removed an image")
	}
}
