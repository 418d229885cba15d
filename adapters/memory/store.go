package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/internal/faults"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Default page sizes of the Store, as the ports document them.
const (
	DefaultListLimit       = 100
	DefaultOperationsLimit = 50
)

// Store method names accepted by FailNext, FailNth, FailAlways and Calls.
const (
	MethodGet             = "Get"
	MethodCreate          = "Create"
	MethodSwap            = "Swap"
	MethodList            = "List"
	MethodListHeads       = "ListHeads"
	MethodCountByStatus   = "CountByStatus"
	MethodReserve         = "Reserve"
	MethodAppendOperation = "AppendOperation"
	MethodListOperations  = "ListOperations"
	MethodUpsertSnapshot  = "UpsertSnapshot"
	MethodGetSnapshot     = "GetSnapshot"
	MethodPing            = "Ping"
)

// Store is an in-memory ports.Store. One mutex guards all of its state, and
// every value goes in and out as a deep copy, so callers never alias it.
// The zero value is not usable; call NewStore. Its embedded fault Set
// fails the methods named by the Method constants on demand (FailNext,
// FailNth, FailAlways, Heal) and counts their calls (Calls); a failed call
// has no effect.
type Store struct {
	*faults.Set

	mu        sync.Mutex
	records   map[string]core.Record
	ops       []core.OperationEntry
	lastOpID  int64
	snapshots map[string]core.HealthSnapshot
}

var _ ports.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		Set: faults.New("memory store", MethodGet, MethodCreate, MethodSwap, MethodList, MethodListHeads,
			MethodCountByStatus, MethodReserve, MethodAppendOperation, MethodListOperations,
			MethodUpsertSnapshot, MethodGetSnapshot, MethodPing),
		records:   map[string]core.Record{},
		snapshots: map[string]core.HealthSnapshot{},
	}
}

func (s *Store) enter(ctx context.Context, method string) error {
	if err := faults.Enter(s.Set, method); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store %s: %w", method, err)
	}
	return nil
}

// Get implements ports.RecordStore.
func (s *Store) Get(ctx context.Context, gameID string) (core.Record, error) {
	if err := s.enter(ctx, MethodGet); err != nil {
		return core.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[gameID]
	if !ok {
		return core.Record{}, fmt.Errorf("memory store: record %q: %w", gameID, ports.ErrNotFound)
	}
	return copyRecord(r), nil
}

// Create implements ports.RecordStore.
func (s *Store) Create(ctx context.Context, rec core.Record) error {
	if err := s.enter(ctx, MethodCreate); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[rec.GameID]; ok {
		return fmt.Errorf("memory store: create record %q: %w", rec.GameID, ports.ErrConflict)
	}
	s.records[rec.GameID] = copyRecord(rec)
	return nil
}

// Swap implements ports.RecordStore: it replaces every field but CreatedAt
// when the stored record matches expect.
func (s *Store) Swap(ctx context.Context, expect ports.Expect, next core.Record) error {
	if err := s.enter(ctx, MethodSwap); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.records[next.GameID]
	if !ok {
		return fmt.Errorf("memory store: swap record %q: %w", next.GameID, ports.ErrNotFound)
	}
	if got := ports.ExpectOf(cur); got != expect {
		return fmt.Errorf("memory store: swap record %q: expected %+v, found %+v: %w",
			next.GameID, expect, got, ports.ErrConflict)
	}
	next = copyRecord(next)
	next.CreatedAt = cur.CreatedAt
	s.records[next.GameID] = next
	return nil
}

// Reserve implements ports.RecordStore: under the store's lock, it counts
// the running and starting records of other games, then creates or swaps.
func (s *Store) Reserve(ctx context.Context, expect *ports.Expect, next core.Record, limit int) error {
	if err := s.enter(ctx, MethodReserve); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 {
		n := 0
		for id, r := range s.records {
			if id != next.GameID && (r.Status == core.StatusRunning || r.Status == core.StatusStarting) {
				n++
			}
		}
		if n >= limit {
			return fmt.Errorf("memory store: reserve record %q: %d of %d runtimes running or starting: %w",
				next.GameID, n, limit, ports.ErrCapacity)
		}
	}
	cur, ok := s.records[next.GameID]
	switch {
	case expect == nil && ok:
		return fmt.Errorf("memory store: reserve record %q: %w", next.GameID, ports.ErrConflict)
	case expect == nil:
		s.records[next.GameID] = copyRecord(next)
		return nil
	case !ok:
		return fmt.Errorf("memory store: reserve record %q: %w", next.GameID, ports.ErrNotFound)
	case ports.ExpectOf(cur) != *expect:
		return fmt.Errorf("memory store: reserve record %q: expected %+v, found %+v: %w",
			next.GameID, *expect, ports.ExpectOf(cur), ports.ErrConflict)
	}
	next = copyRecord(next)
	next.CreatedAt = cur.CreatedAt
	s.records[next.GameID] = next
	return nil
}

// List implements ports.RecordStore with a keyset cursor in game_id order.
func (s *Store) List(ctx context.Context, q ports.ListQuery) ([]core.Record, string, error) {
	if err := s.enter(ctx, MethodList); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, next := s.page(q)
	items := make([]core.Record, 0, len(ids))
	for _, id := range ids {
		items = append(items, copyRecord(s.records[id]))
	}
	return items, next, nil
}

// ListHeads implements ports.RecordStore: List's page, heads only.
func (s *Store) ListHeads(ctx context.Context, q ports.ListQuery) ([]core.RecordHead, string, error) {
	if err := s.enter(ctx, MethodListHeads); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, next := s.page(q)
	items := make([]core.RecordHead, 0, len(ids))
	for _, id := range ids {
		items = append(items, s.records[id].Head())
	}
	return items, next, nil
}

// page returns the ids of the page q selects, in order, and the cursor of
// the next page. The caller holds s.mu.
func (s *Store) page(q ports.ListQuery) (ids []string, next string) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	ids = make([]string, 0, len(s.records))
	for id, r := range s.records {
		if id > q.After && (q.Status == "" || r.Status == q.Status) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	return ids, next
}

// CountByStatus implements ports.RecordStore. Statuses without records are
// absent from the map.
func (s *Store) CountByStatus(ctx context.Context) (map[core.Status]int, error) {
	if err := s.enter(ctx, MethodCountByStatus); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[core.Status]int{}
	for _, r := range s.records {
		out[r.Status]++
	}
	return out, nil
}

// AppendOperation implements ports.OperationLog; ids start at 1 and
// increase by one. The ID field of e is ignored.
func (s *Store) AppendOperation(ctx context.Context, e core.OperationEntry) (int64, error) {
	if err := s.enter(ctx, MethodAppendOperation); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastOpID++
	e.ID = s.lastOpID
	s.ops = append(s.ops, e)
	return e.ID, nil
}

// ListOperations implements ports.OperationLog.
func (s *Store) ListOperations(ctx context.Context, gameID string, limit int) ([]core.OperationEntry, error) {
	if err := s.enter(ctx, MethodListOperations); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultOperationsLimit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []core.OperationEntry{}
	for i := len(s.ops) - 1; i >= 0 && len(out) < limit; i-- {
		if s.ops[i].GameID == gameID {
			out = append(out, s.ops[i])
		}
	}
	return out, nil
}

// Operations returns every entry of the log in append order, for tests.
func (s *Store) Operations() []core.OperationEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]core.OperationEntry(nil), s.ops...)
}

// UpsertSnapshot implements ports.SnapshotStore.
func (s *Store) UpsertSnapshot(ctx context.Context, snap core.HealthSnapshot) error {
	if err := s.enter(ctx, MethodUpsertSnapshot); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.snapshots[snap.GameID]; ok && cur.LastEventAt.After(snap.LastEventAt) {
		return nil
	}
	snap.Details = copyDetails(snap.Details)
	s.snapshots[snap.GameID] = snap
	return nil
}

// GetSnapshot implements ports.SnapshotStore.
func (s *Store) GetSnapshot(ctx context.Context, gameID string) (core.HealthSnapshot, error) {
	if err := s.enter(ctx, MethodGetSnapshot); err != nil {
		return core.HealthSnapshot{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.snapshots[gameID]
	if !ok {
		return core.HealthSnapshot{}, fmt.Errorf("memory store: snapshot %q: %w", gameID, ports.ErrNotFound)
	}
	snap.Details = copyDetails(snap.Details)
	return snap, nil
}

// Ping implements ports.Store.
func (s *Store) Ping(ctx context.Context) error {
	return s.enter(ctx, MethodPing)
}

func copyRecord(r core.Record) core.Record {
	r.StartedAt = copyTime(r.StartedAt)
	r.StoppedAt = copyTime(r.StoppedAt)
	r.RemovedAt = copyTime(r.RemovedAt)
	r.NextRestartAt = copyTime(r.NextRestartAt)
	r.Crash.History = append([]time.Time(nil), r.Crash.History...)
	if len(r.Crash.History) == 0 {
		r.Crash.History = nil
	}
	if r.Env != nil {
		env := make(map[string]string, len(r.Env))
		for k, v := range r.Env {
			env[k] = v
		}
		r.Env = env
	}
	return r
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// copyDetails deep-copies a JSON-like map: nested maps and slices are
// copied, other values are shared (they are immutable in JSON terms).
func copyDetails(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyDetails(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = copyValue(x)
		}
		return out
	}
	return v
}
