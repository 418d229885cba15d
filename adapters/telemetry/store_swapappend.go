package telemetry

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// swapAppendStore is a traced store over a ports.SwapAppender: WrapStore
// returns it for such a store so lifecycle still finds the capability
// through the wrapper (otherwise every transition's record swap and audit
// entry would silently go back to two statements).
type swapAppendStore struct {
	store
	sa ports.SwapAppender
}

var _ ports.SwapAppender = swapAppendStore{}

// SwapAppend implements ports.SwapAppender.
func (s swapAppendStore) SwapAppend(ctx context.Context, expect ports.Expect, next core.Record, e core.OperationEntry) (err error) {
	ctx, end := s.span(ctx, "SwapAppend", next.GameID)
	defer func() { end(err) }()
	return s.sa.SwapAppend(ctx, expect, next, e)
}

// wrapCapabilities returns w with the optional capabilities of next that
// lifecycle looks for.
func wrapCapabilities(w store, next ports.Store) ports.Store {
	if sa, ok := next.(ports.SwapAppender); ok {
		if ss, ok := next.(ports.SwapSnapshotter); ok {
			return swapSnapStore{swapAppendStore: swapAppendStore{store: w, sa: sa}, ss: ss}
		}
		return swapAppendStore{store: w, sa: sa}
	}
	return w
}
