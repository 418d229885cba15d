package telemetry

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// swapSnapStore is a traced store over a ports.SwapSnapshotter (which is a
// ports.SwapAppender too): WrapStore returns it so lifecycle still writes a
// start's running record, entry and snapshot in one statement, and the
// running writes of concurrent starts in one batch.
type swapSnapStore struct {
	swapAppendStore
	ss ports.SwapSnapshotter
}

var (
	_ ports.SwapSnapshotter      = swapSnapStore{}
	_ ports.BatchSwapSnapshotter = swapSnapStore{}
)

// SwapAppendSnapshot implements ports.SwapSnapshotter.
func (s swapSnapStore) SwapAppendSnapshot(ctx context.Context, expect ports.Expect, next core.Record,
	e core.OperationEntry, snap core.HealthSnapshot) (err error) {
	ctx, end := s.span(ctx, "SwapAppendSnapshot", next.GameID)
	defer func() { end(err) }()
	return s.ss.SwapAppendSnapshot(ctx, expect, next, e, snap)
}

// SwapAppendSnapshotMany implements ports.BatchSwapSnapshotter: the wrapped
// store's, or its SwapAppendSnapshot for each item.
func (s swapSnapStore) SwapAppendSnapshotMany(ctx context.Context, items []ports.SwapSnapshot) (_ []error, err error) {
	ctx, end := s.span(ctx, "SwapAppendSnapshotMany", "")
	defer func() { end(err) }()
	if bs, ok := s.ss.(ports.BatchSwapSnapshotter); ok {
		return bs.SwapAppendSnapshotMany(ctx, items)
	}
	out := make([]error, len(items))
	for i, it := range items {
		out[i] = s.ss.SwapAppendSnapshot(ctx, it.Expect, it.Next, it.Entry, it.Snapshot)
	}
	return out, nil
}
