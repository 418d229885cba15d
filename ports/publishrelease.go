package ports

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
)

// PublishReleaser is an optional capability of a HealthPublisher whose
// stream lives with the leases: an operation's health event and the
// release of the operation's lease, sent together and applied in that
// order, in one round trip. Lifecycle uses it for a start's
// container_started, which otherwise costs a round trip of its own just
// before the release (docs/BENCHMARKS.md, P2).
type PublishReleaser interface {
	// PublishRelease does Publish(ev) and then leases.Release(gameID,
	// token) when leases is the lease store next to this stream (handled
	// true); otherwise it does nothing and returns handled false. pubErr is
	// what Publish would return, relErr what Release would; a failed
	// publish never keeps the lease from being released.
	PublishRelease(ctx context.Context, ev core.HealthEvent, leases LeaseStore, gameID, token string) (handled bool, pubErr, relErr error)
}
