package memory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/healthtest"
)

var errBoom = errors.New("boom")

func TestStoreFaults(t *testing.T) {
	tests := []struct {
		name   string
		inject func(s *memory.Store)
		// want lists, per call of Get, whether it fails with errBoom.
		want []bool
	}{
		{"None", func(*memory.Store) {}, []bool{false, false, false}},
		{"Next", func(s *memory.Store) { s.FailNext(memory.MethodGet, errBoom) }, []bool{true, false, false}},
		{"Nth", func(s *memory.Store) { s.FailNth(memory.MethodGet, 2, errBoom) }, []bool{false, true, false}},
		{"Always", func(s *memory.Store) { s.FailAlways(memory.MethodGet, errBoom) }, []bool{true, true, true}},
		{"Healed", func(s *memory.Store) { s.FailAlways(memory.MethodGet, errBoom); s.Heal() }, []bool{false, false, false}},
		{"OtherMethod", func(s *memory.Store) { s.FailAlways(memory.MethodSwap, errBoom) }, []bool{false, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := memory.NewStore()
			if err := s.Create(t.Context(), core.Record{GameID: "g", Status: core.StatusStopped}); err != nil {
				t.Fatal(err)
			}
			tc.inject(s)
			var got []bool
			for range tc.want {
				_, err := s.Get(t.Context(), "g")
				if err != nil && !errors.Is(err, errBoom) {
					t.Fatalf("Get: unexpected error %v", err)
				}
				got = append(got, err != nil)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("failures per call (-want +got):\n%s", d)
			}
			if n := s.Calls(memory.MethodGet); n != len(tc.want) {
				t.Errorf("Calls(Get) = %d, want %d", n, len(tc.want))
			}
		})
	}
}

func TestStoreFaultDefaultsAndSideEffects(t *testing.T) {
	ctx := t.Context()
	s := memory.NewStore()
	s.FailNext(memory.MethodCreate, nil)
	err := s.Create(ctx, core.Record{GameID: "g", Status: core.StatusStopped})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Create with a nil injected error: %v, want ErrUnavailable", err)
	}
	if _, err := s.Get(ctx, "g"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get after a failed Create: %v, want ErrNotFound (no side effect)", err)
	}
	s.FailNext(memory.MethodAppendOperation, nil)
	if _, err := s.AppendOperation(ctx, core.OperationEntry{GameID: "g"}); err == nil {
		t.Fatal("AppendOperation did not fail")
	}
	if ops := s.Operations(); len(ops) != 0 {
		t.Fatalf("Operations after a failed append = %v, want none", ops)
	}
}

func TestStoreFaultUnknownMethodPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("FailNext of an unknown method did not panic")
		}
	}()
	memory.NewStore().FailNext("Gett", errBoom)
}

func TestLeasesFaults(t *testing.T) {
	ctx := t.Context()
	l := memory.NewLeases(nil)
	l.FailNth(memory.MethodTryAcquire, 2, errBoom)
	if ok, err := l.TryAcquire(ctx, "g", "a", time.Minute); !ok || err != nil {
		t.Fatalf("first TryAcquire = %v, %v; want true, nil", ok, err)
	}
	if _, err := l.TryAcquire(ctx, "h", "a", time.Minute); !errors.Is(err, errBoom) {
		t.Fatalf("second TryAcquire = %v, want errBoom", err)
	}
	if _, ok := l.Holder("h"); ok {
		t.Error("a failed TryAcquire took the lease")
	}
	l.FailAlways(memory.MethodRelease, nil)
	if err := l.Release(ctx, "g", "a"); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Release with a nil injected error = %v, want ErrUnavailable", err)
	}
	if h, ok := l.Holder("g"); !ok || h != "a" {
		t.Errorf("a failed Release freed the lease: holder %q, %v", h, ok)
	}
	l.Heal()
	if err := l.Release(ctx, "g", "a"); err != nil {
		t.Fatalf("Release after Heal: %v", err)
	}
	if n := l.Calls(memory.MethodTryAcquire) + l.Calls(memory.MethodRelease); n != 4 {
		t.Errorf("Calls(TryAcquire)+Calls(Release) = %d, want 4", n)
	}
}

func TestHealthRecorderContract(t *testing.T) {
	healthtest.Run(t, healthtest.Harness{
		New: func(t *testing.T) (ports.HealthPublisher, func() []core.HealthEvent) {
			h := memory.NewHealthRecorder()
			return h, h.Events
		},
	})
}

func TestHealthRecorder(t *testing.T) {
	ctx := t.Context()
	h := memory.NewHealthRecorder()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := core.HealthEvent{GameID: "g", ContainerID: "c", Type: core.EventHealthCheckFailed, OccurredAt: at,
		Details: map[string]any{"consecutive_failures": 2, "last_error": "refused"}}
	if err := h.Publish(ctx, ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := h.Events()
	if d := cmp.Diff([]core.HealthEvent{ev}, got); d != "" {
		t.Errorf("Events (-want +got):\n%s", d)
	}
	got[0].Details["last_error"] = "changed"
	if h.Events()[0].Details["last_error"] != "refused" {
		t.Error("Events returned an alias of the recorded details")
	}
	h.FailNext(memory.MethodPublish, nil)
	ev2 := ev
	ev2.Type = core.EventHealthCheckRecovered
	if err := h.Publish(ctx, ev2); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Publish with a fault: %v, want ErrUnavailable", err)
	}
	if n := len(h.Events()); n != 1 {
		t.Errorf("a failed Publish was recorded: %d events", n)
	}
	if err := h.Publish(ctx, ev2); err != nil {
		t.Fatalf("Publish after the fault: %v", err)
	}
	if h.Calls(memory.MethodPublish) != 3 || len(h.EventsOf("g")) != 2 || len(h.EventsOf("other")) != 0 {
		t.Errorf("Calls = %d, EventsOf(g) = %d; want 3 and 2", h.Calls(memory.MethodPublish), len(h.EventsOf("g")))
	}
}
