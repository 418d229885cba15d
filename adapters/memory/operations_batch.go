package memory

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
)

// AppendOperations implements ports.OperationLog: the entries get the next
// ids in the order of es, all under one lock. The ID fields are ignored.
func (s *Store) AppendOperations(ctx context.Context, es []core.OperationEntry) ([]int64, error) {
	if err := s.enter(ctx, MethodAppendOperations); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, len(es))
	for i, e := range es {
		s.lastOpID++
		e.ID = s.lastOpID
		s.ops = append(s.ops, e)
		ids[i] = e.ID
	}
	return ids, nil
}
