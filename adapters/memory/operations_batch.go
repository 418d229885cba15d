package memory

import (
	"context"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Batch method names accepted by FailNext, FailNth, FailAlways and Calls.
const (
	MethodAppendOperations   = "AppendOperations"
	MethodGetMany            = "GetMany"
	MethodListOperationsMany = "ListOperationsMany"
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

var _ ports.BatchReader = (*Store)(nil)

// GetMany implements ports.BatchReader under one lock.
func (s *Store) GetMany(ctx context.Context, gameIDs []string) (map[string]core.Record, error) {
	if err := s.enter(ctx, MethodGetMany); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]core.Record, len(gameIDs))
	for _, g := range gameIDs {
		if r, ok := s.records[g]; ok {
			out[g] = copyRecord(r)
		}
	}
	return out, nil
}

// ListOperationsMany implements ports.BatchReader under one lock.
func (s *Store) ListOperationsMany(ctx context.Context, gameIDs []string, limit int) (map[string][]core.OperationEntry, error) {
	if err := s.enter(ctx, MethodListOperationsMany); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultOperationsLimit
	}
	want := make(map[string]bool, len(gameIDs))
	for _, g := range gameIDs {
		want[g] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]core.OperationEntry{}
	for i := len(s.ops) - 1; i >= 0; i-- {
		g := s.ops[i].GameID
		if want[g] && len(out[g]) < limit {
			out[g] = append(out[g], s.ops[i])
		}
	}
	return out, nil
}
