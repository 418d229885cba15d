package lifecycle

import (
	"context"
	"errors"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// ImageGC removes engine images nothing uses any more
// (RTMANAGER_IMAGE_GC_AFTER): an image is a candidate when it matches the
// allow-list (which must not be empty, so images rtmanager never ran are
// never touched), no container of any scope runs or keeps it, and no
// runtime record that is not removed names it. A candidate is removed once
// it has stayed one for the GC age; "since" is counted from the first pass
// that saw it unused, so a restart of rtmanager starts the count afresh
// (never earlier). Every removal is logged with the image's digest and size.
// A pass is not safe to run concurrently with itself.
type ImageGC struct {
	b     *base
	after time.Duration
	// unusedSince is when each candidate (by normalised ref) was first
	// seen unused.
	unusedSince map[string]time.Time
}

// NewImageGC returns the image GC removing images unused for after. It is
// an error to ask for one with an empty allow-list.
func (s *Services) NewImageGC(after time.Duration) (*ImageGC, error) {
	if after <= 0 {
		return nil, errors.New("lifecycle: image GC age must be positive")
	}
	if len(s.b.Config.Allow) == 0 {
		return nil, errors.New("lifecycle: image GC needs a non-empty allow-list")
	}
	return &ImageGC{b: s.b, after: after, unusedSince: map[string]time.Time{}}, nil
}

// RemovedImage is one image a GC pass removed.
type RemovedImage struct {
	Ref       string
	Digest    string
	SizeBytes int64
	// UnusedFor is how long the pass knew the image unused.
	UnusedFor time.Duration
}

// Pass runs one GC pass and returns what it removed. A driver without an
// image store (plugins) has nothing to collect. Errors: the driver's or
// store's, coded; a failed removal is logged and left for the next pass.
func (g *ImageGC) Pass(ctx context.Context) ([]RemovedImage, error) {
	store := g.b.images.store
	imgs, err := store.Images(ctx)
	if errors.Is(err, ports.ErrUnsupported) {
		return nil, nil
	}
	if err != nil {
		return nil, driverErr("list images", err, core.CodeServiceUnavailable)
	}
	used, err := g.inUse(ctx)
	if err != nil {
		return nil, err
	}
	now := g.b.Now()
	seen := map[string]bool{}
	var removed []RemovedImage
	for _, img := range imgs {
		ref, err := core.ParseImageRef(img.Ref)
		if err != nil || !g.b.Config.Allow.Allows(ref) {
			continue
		}
		key := ref.String()
		seen[key] = true
		if used[key] {
			delete(g.unusedSince, key)
			continue
		}
		since, ok := g.unusedSince[key]
		if !ok {
			g.unusedSince[key] = now
			continue
		}
		if now.Sub(since) < g.after {
			continue
		}
		if err := store.RemoveImage(ctx, img.Ref); err != nil {
			g.b.log.WarnContext(ctx, "image GC: remove failed; retrying next pass", "image_ref", img.Ref, "err", err)
			continue
		}
		delete(g.unusedSince, key)
		r := RemovedImage{Ref: img.Ref, Digest: img.Digest, SizeBytes: img.SizeBytes, UnusedFor: now.Sub(since)}
		removed = append(removed, r)
		g.b.log.InfoContext(ctx, "image GC removed an unused image", "image_ref", r.Ref, "digest", r.Digest,
			"size_bytes", r.SizeBytes, "unused_for", r.UnusedFor.String())
	}
	for key := range g.unusedSince {
		if !seen[key] {
			delete(g.unusedSince, key) // gone by other means
		}
	}
	return removed, nil
}

// inUse returns the normalised refs of the images every managed container
// (all scopes) and every record that is not removed names.
func (g *ImageGC) inUse(ctx context.Context) (map[string]bool, error) {
	used := map[string]bool{}
	add := func(ref string) {
		if r, err := core.ParseImageRef(ref); err == nil {
			used[r.String()] = true
		}
	}
	cs, err := g.b.Driver.List(ctx, map[string]string{ports.LabelManaged: "true"})
	if err != nil {
		return nil, driverErr("list containers", err, core.CodeServiceUnavailable)
	}
	for _, c := range cs {
		add(c.Image)
		add(c.Labels[ports.LabelImageRef])
	}
	after := ""
	for {
		recs, next, err := g.b.Records.List(ctx, ports.ListQuery{After: after, Limit: gcPage})
		if err != nil {
			return nil, storeErr("list runtime records", err)
		}
		for _, r := range recs {
			if r.Status != core.StatusRemoved {
				add(r.ImageRef)
			}
		}
		if next == "" {
			return used, nil
		}
		if next == after {
			return nil, core.Errorf(core.CodeInternal, "record listing did not advance past %q", after)
		}
		after = next
	}
}

// gcPage is the page size the GC reads records in.
const gcPage = 500
