package telemetry

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

var _ ports.BatchCreator = store{}

// CreateMany implements ports.BatchCreator: the wrapped store's
// CreateMany, or its Create for each record when it has no batch creates.
func (s store) CreateMany(ctx context.Context, recs []core.Record) (_ []error, err error) {
	ctx, end := s.span(ctx, "CreateMany", "")
	defer func() { end(err) }()
	if bc, ok := s.next.(ports.BatchCreator); ok {
		return bc.CreateMany(ctx, recs)
	}
	out := make([]error, len(recs))
	for i, rec := range recs {
		out[i] = s.next.Create(ctx, rec)
	}
	return out, nil
}
