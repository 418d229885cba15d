package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// DefaultPullTimeout bounds one image pull when Config.PullTimeout is zero.
const DefaultPullTimeout = 5 * time.Minute

// Pull results, the `result` label of rtmanager_image_pulls_total.
const (
	PullSuccess = "success"
	// PullLocalFallback: policy always, the registry was unreachable and
	// the local copy was used.
	PullLocalFallback = "local_fallback"
	PullError         = "error"
)

// errPolicyNever: the image is missing and policy never forbids the pull.
var errPolicyNever = fmt.Errorf("%w: pull policy never", ports.ErrImageUnavailable)

// pullReasons is the one table from the port's pull failures to the reason
// an image_unavailable message gives and the metric's result label.
var pullReasons = [...]struct {
	err    error
	reason string
	result string
}{
	{ports.ErrImageNotFound, "not found", "not_found"},
	{ports.ErrImageUnauthorized, "unauthorized", "unauthorized"},
	{ports.ErrRegistryUnreachable, "registry unreachable", "unreachable"},
	{ports.ErrPullTimeout, "timeout", "timeout"},
	{errPolicyNever, "not present locally and the pull policy is never", ""},
}

// pullResult returns the metric result of a pull that ended with err.
func pullResult(err error) string {
	if err == nil {
		return PullSuccess
	}
	for _, r := range pullReasons {
		if errors.Is(err, r.err) {
			return r.result
		}
	}
	return PullError
}

// imageErr returns the coded error of a failed image preparation: an
// image_unavailable message naming why (the one place it is built), or the
// code the port sentinel maps to (service_unavailable for a runtime that is
// down, invalid_request for a bad ref).
func imageErr(ref string, err error) error {
	if !errors.Is(err, ports.ErrImageUnavailable) {
		return driverErr("prepare image", err, core.CodeImageUnavailable)
	}
	reason := "cannot be pulled"
	for _, r := range pullReasons {
		if errors.Is(err, r.err) {
			reason = r.reason
			break
		}
	}
	return core.Errorf(core.CodeImageUnavailable, "image %s unavailable: %s (%v)", ref, reason, err)
}

// Images makes engine images present under the pull policy: one pull per
// reference at a time however many operations need it (singleflight), each
// bounded by the pull timeout, counted and timed. It is safe for
// concurrent use.
type Images struct {
	b *base
	// store is the driver's image store (ErrUnsupported answers for a
	// driver without one).
	store ports.ImageStore

	mu      sync.Mutex
	flights map[string]*flight
}

// flight is one pull in progress that several callers wait on.
type flight struct {
	done chan struct{}
	img  ports.Image
	err  error
}

func newImages(b *base, store ports.ImageStore) *Images {
	return &Images{b: b, store: store, flights: map[string]*flight{}}
}

// prepare makes ref usable for a start under the pull policy, or returns
// the coded error saying why it is not. Drivers without an image store
// (plugins) prepare images their own way, under every policy.
func (im *Images) prepare(ctx context.Context, ref string) error {
	err := im.ensure(ctx, ref)
	if errors.Is(err, ports.ErrUnsupported) {
		err = im.b.Driver.PrepareImage(ctx, ref)
	}
	if err != nil {
		return imageErr(ref, err)
	}
	return nil
}

// ensure applies the pull policy over the driver's image store.
func (im *Images) ensure(ctx context.Context, ref string) error {
	store := im.store
	policy := im.b.Config.PullPolicy
	if policy != core.PullAlways {
		_, err := store.LocalImage(ctx, ref)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, ports.ErrNotFound):
			return err
		case policy == core.PullNever:
			return errPolicyNever
		}
	}
	_, err := im.pull(ctx, ref)
	if policy == core.PullAlways && errors.Is(err, ports.ErrRegistryUnreachable) {
		if _, lerr := store.LocalImage(ctx, ref); lerr == nil {
			im.b.log.WarnContext(ctx, "registry unreachable; starting on the local copy of the image",
				"image_ref", ref, "err", err)
			im.b.Telemetry.ImagePull(ctx, PullLocalFallback, 0)
			return nil
		}
	}
	return err
}

// Pull pulls ref now, whatever the pull policy (an explicit pre-pull), after
// checking it against the allow-list. Errors are coded: invalid_request,
// forbidden, image_unavailable naming why, service_unavailable, unsupported
// for a driver without an image store.
func (im *Images) Pull(ctx context.Context, ref string) (ports.Image, error) {
	if err := core.ValidateImageRef(ref); err != nil {
		return ports.Image{}, err
	}
	if err := im.b.Config.Allow.Check(ref); err != nil {
		return ports.Image{}, err
	}
	img, err := im.pull(ctx, ref)
	if errors.Is(err, ports.ErrUnsupported) {
		return ports.Image{}, core.Errorf(core.CodeUnsupported, "pre-pull: %v", err)
	}
	if err != nil {
		return ports.Image{}, imageErr(ref, err)
	}
	return img, nil
}

// pull runs one pull of ref, or joins the one in progress. The pull itself
// runs on a context detached from the first caller's cancellation (other
// callers may still wait for it) and bounded by the pull timeout; each
// caller stops waiting when its own ctx ends.
func (im *Images) pull(ctx context.Context, ref string) (ports.Image, error) {
	// "engine:1" and "docker.io/library/engine:1" share one pull.
	key := ref
	if r, err := core.ParseImageRef(ref); err == nil {
		key = r.String()
	}
	im.mu.Lock()
	f, joined := im.flights[key]
	if !joined {
		f = &flight{done: make(chan struct{})}
		im.flights[key] = f
		go im.run(context.WithoutCancel(ctx), key, ref, f)
	}
	im.mu.Unlock()
	select {
	case <-f.done:
		return f.img, f.err
	case <-ctx.Done():
		return ports.Image{}, context.Cause(ctx)
	}
}

// run performs the pull of flight f (registered under key) and records
// its result.
func (im *Images) run(ctx context.Context, key, ref string, f *flight) {
	defer func() {
		im.mu.Lock()
		delete(im.flights, key)
		im.mu.Unlock()
		close(f.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, im.b.Config.PullTimeout)
	defer cancel()
	began := im.b.Now()
	if ports.Guard(ctx, im.b.Telemetry, im.b.log, "image pull", func() {
		f.img, f.err = im.store.PullImage(ctx, ref)
	}) {
		f.err = errors.New("image pull panicked") // Guard logged it
	}
	if errors.Is(f.err, ports.ErrUnsupported) {
		return
	}
	d := im.b.Now().Sub(began)
	im.b.Telemetry.ImagePull(ctx, pullResult(f.err), d)
	if f.err != nil {
		im.b.log.WarnContext(ctx, "image pull failed", "image_ref", ref, "result", pullResult(f.err),
			"duration_ms", d.Milliseconds(), "err", f.err)
		return
	}
	im.b.log.InfoContext(ctx, "image pulled", "image_ref", ref, "digest", f.img.Digest,
		"size_bytes", f.img.SizeBytes, "duration_ms", d.Milliseconds())
}
