package containerd

import (
	"testing"
	"time"
)

// TestPortReservationsLapse: a port handed out stays reserved while its
// engine may still be binding it, and the reservation lapses after
// portHold even when this instance never removes the container (another
// instance sharing the daemon did), so reservations do not pile up.
func TestPortReservationsLapse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	d := &Driver{ports: map[int]time.Time{}, now: func() time.Time { return now }}
	first, err := d.allocatePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		p, err := d.allocatePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if p == first {
			t.Fatalf("port %d handed out twice within the hold", p)
		}
	}
	if n := len(d.ports); n != 21 {
		t.Fatalf("%d reservations, want 21", n)
	}
	now = now.Add(portHold)
	if _, err := d.allocatePort("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if n := len(d.ports); n != 1 {
		t.Errorf("%d reservations after the hold lapsed, want only the new one", n)
	}
	if _, held := d.ports[first]; held {
		t.Errorf("port %d still reserved after the hold", first)
	}
}
