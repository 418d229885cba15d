package ports

import (
	"context"
	"fmt"
	"time"
)

// Why a pull failed: each wraps ErrImageUnavailable, so a caller that only
// asks "can the image be had?" keeps using that sentinel, and core names
// the reason in the image_unavailable message.
var (
	// ErrImageNotFound: the registry has no such repository or tag.
	ErrImageNotFound = fmt.Errorf("%w: not found", ErrImageUnavailable)
	// ErrImageUnauthorized: the registry refused the credentials (or
	// their absence).
	ErrImageUnauthorized = fmt.Errorf("%w: unauthorized", ErrImageUnavailable)
	// ErrRegistryUnreachable: the registry could not be reached.
	ErrRegistryUnreachable = fmt.Errorf("%w: registry unreachable", ErrImageUnavailable)
	// ErrPullTimeout: the pull did not finish within its deadline.
	ErrPullTimeout = fmt.Errorf("%w: timeout", ErrImageUnavailable)
)

// Image is what a driver knows of one local image.
type Image struct {
	// Ref is the reference the image was asked for or is tagged with.
	Ref string
	// ID is the runtime's id of the image (its config or manifest digest).
	ID string
	// Digest is the registry's manifest digest (sha256:…) when known;
	// empty for an image that was built or imported locally.
	Digest string
	// SizeBytes is the image's size as the runtime reports it.
	SizeBytes int64
	// CreatedAt is when the image entered the runtime's store.
	CreatedAt time.Time
}

// ImageStore is the optional image capability of a RuntimeDriver (the
// built-in docker and containerd drivers have it; plugins manage their own
// images through PrepareImage). Core applies the pull policy, the timeout
// and singleflight over it. Credentials are the driver's business.
type ImageStore interface {
	// LocalImage returns the image ref names if it is present locally.
	// Errors: ErrNotFound, ErrInvalid (an unparsable ref),
	// ErrUnsupported, ErrUnavailable.
	LocalImage(ctx context.Context, ref string) (Image, error)
	// PullImage pulls ref from its registry (unpacking it where the
	// runtime needs that) and returns it, bounded by ctx. Errors:
	// ErrImageNotFound, ErrImageUnauthorized, ErrRegistryUnreachable,
	// ErrPullTimeout (ctx's deadline passed), ErrImageUnavailable for
	// another registry failure, ErrInvalid, ErrUnsupported, ErrUnavailable
	// (the runtime itself is down).
	PullImage(ctx context.Context, ref string) (Image, error)
	// Images lists the local images: one entry per tag (an untagged image
	// is left out). Errors: ErrUnsupported, ErrUnavailable.
	Images(ctx context.Context) ([]Image, error)
	// RemoveImage removes the tag ref; the runtime frees the content when
	// no tag is left. Removing a missing image is not an error; an image a
	// container uses is ErrConflict. Errors: ErrConflict, ErrUnsupported,
	// ErrUnavailable.
	RemoveImage(ctx context.Context, ref string) error
}

// ImagesOf returns d's ImageStore, or one whose every call answers
// ErrUnsupported when d has none. Wrapping drivers forward through it.
func ImagesOf(d RuntimeDriver) ImageStore {
	if s, ok := d.(ImageStore); ok {
		return s
	}
	return noImages{d}
}

// noImages is the ImageStore of a driver without one.
type noImages struct{ d RuntimeDriver }

func (n noImages) err() error {
	return fmt.Errorf("%w: the %T driver has no image store", ErrUnsupported, n.d)
}

func (n noImages) LocalImage(context.Context, string) (Image, error) { return Image{}, n.err() }
func (n noImages) PullImage(context.Context, string) (Image, error)  { return Image{}, n.err() }
func (n noImages) Images(context.Context) ([]Image, error)           { return nil, n.err() }
func (n noImages) RemoveImage(context.Context, string) error         { return n.err() }
