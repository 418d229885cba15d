package telemetry

import (
	"context"
	"errors"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.BatchReader = store{}

// GetMany implements ports.BatchReader: the wrapped store's GetMany, or
// its Get for each game when it has no batch reads.
func (s store) GetMany(ctx context.Context, gameIDs []string) (_ map[string]core.Record, err error) {
	ctx, end := s.span(ctx, "GetMany", "")
	defer func() { end(err) }()
	if br, ok := s.next.(ports.BatchReader); ok {
		return br.GetMany(ctx, gameIDs)
	}
	out := make(map[string]core.Record, len(gameIDs))
	for _, g := range gameIDs {
		rec, err := s.next.Get(ctx, g)
		switch {
		case err == nil:
			out[g] = rec
		case !errors.Is(err, ports.ErrNotFound):
			return nil, err
		}
	}
	return out, nil
}

// ListOperationsMany implements ports.BatchReader: the wrapped store's
// ListOperationsMany, or its ListOperations for each game when it has no
// batch reads.
func (s store) ListOperationsMany(ctx context.Context, gameIDs []string, limit int) (_ map[string][]core.OperationEntry, err error) {
	ctx, end := s.span(ctx, "ListOperationsMany", "")
	defer func() { end(err) }()
	if br, ok := s.next.(ports.BatchReader); ok {
		return br.ListOperationsMany(ctx, gameIDs, limit)
	}
	out := make(map[string][]core.OperationEntry, len(gameIDs))
	for _, g := range gameIDs {
		es, err := s.next.ListOperations(ctx, g, limit)
		if err != nil {
			return nil, err
		}
		if len(es) > 0 {
			out[g] = es
		}
	}
	return out, nil
}
