package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/ports"
)

// observableDriver is the fake driver with the optional LogSource and
// StatsSource: it records which ids reached them.
type observableDriver struct {
	*fakedriver.Driver
	mu    sync.Mutex
	calls []string
}

func (d *observableDriver) Logs(ctx context.Context, id string, _ ports.LogOptions, w io.Writer) error {
	d.mu.Lock()
	d.calls = append(d.calls, "logs "+id)
	d.mu.Unlock()
	if _, err := d.Inspect(ctx, id); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "output of %s\n", id)
	return err
}

func (d *observableDriver) Stats(ctx context.Context, id string) (ports.Stats, error) {
	d.mu.Lock()
	d.calls = append(d.calls, "stats "+id)
	d.mu.Unlock()
	if _, err := d.Inspect(ctx, id); err != nil {
		return ports.Stats{}, err
	}
	return ports.Stats{Pids: ports.Int64(7)}, nil
}

func (d *observableDriver) reached() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// TestScopedDriver: through the scoped view, a container of another scope
// or one rtmanager does not manage does not exist — Inspect, Stop, Logs
// and Stats answer ErrNotFound without reaching it, and Remove is a no-op
// that leaves it in place — while the scope's own container is served.
func TestScopedDriver(t *testing.T) {
	ctx := context.Background()
	raw := &observableDriver{Driver: fakedriver.New(func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) })}
	raw.AddImage("engine:a", fakedriver.Behavior{})
	start := func(name string, labels map[string]string) string {
		t.Helper()
		c, err := raw.Start(ctx, ports.ContainerSpec{Name: name, Image: "engine:a", Labels: labels})
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		return c.ID
	}
	managed := func(scope string) map[string]string {
		l := map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "g"}
		if scope != "" {
			l[ports.LabelScope] = scope
		}
		return l
	}
	own := start("rtm-blue-g-1", managed("blue"))
	foreign := start("rtm-g-1", managed(""))          // the default scope
	green := start("rtm-green-g-1", managed("green")) // a third scope
	unmanaged := start("someone-elses", map[string]string{ports.LabelScope: "blue"})
	notTrue := start("half-managed", map[string]string{ports.LabelManaged: "yes", ports.LabelScope: "blue"})

	d := scopedDriver{RuntimeDriver: raw, scope: "blue"}
	var _ ports.LogSource = d
	for _, tc := range []struct{ name, id string }{
		{"default scope", foreign}, {"another scope", green}, {"unmanaged", unmanaged},
		{"managed label not true", notTrue}, {"missing", "no-such-container"},
	} {
		id := tc.id
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.Inspect(ctx, id); !errors.Is(err, ports.ErrNotFound) {
				t.Errorf("Inspect = %v, want ErrNotFound", err)
			}
			if err := d.Stop(ctx, id, time.Second); !errors.Is(err, ports.ErrNotFound) {
				t.Errorf("Stop = %v, want ErrNotFound", err)
			}
			var out bytes.Buffer
			if err := d.Logs(ctx, id, ports.LogOptions{Tail: ports.TailAll}, &out); !errors.Is(err, ports.ErrNotFound) || out.Len() != 0 {
				t.Errorf("Logs = %v, wrote %q; want ErrNotFound and nothing", err, out.String())
			}
			if st, err := d.Stats(ctx, id); !errors.Is(err, ports.ErrNotFound) || st.Pids != nil {
				t.Errorf("Stats = %+v, %v; want ErrNotFound", st, err)
			}
			if err := d.Remove(ctx, id); err != nil {
				t.Errorf("Remove = %v, want nil (gone from this scope)", err)
			}
		})
	}
	if got := raw.reached(); len(got) != 0 {
		t.Errorf("the driver's logs/stats were reached for hidden containers: %v", got)
	}
	for _, id := range []string{foreign, green, unmanaged, notTrue} {
		if c, err := raw.Inspect(ctx, id); err != nil || c.State != ports.StateRunning {
			t.Errorf("hidden container %s = %+v, %v; want it left running", id, c, err)
		}
	}

	var out bytes.Buffer
	if err := d.Logs(ctx, own, ports.LogOptions{Tail: ports.TailAll}, &out); err != nil || out.String() != "output of "+own+"\n" {
		t.Errorf("Logs(own) = %v, %q", err, out.String())
	}
	if st, err := d.Stats(ctx, own); err != nil || st.Pids == nil || *st.Pids != 7 {
		t.Errorf("Stats(own) = %+v, %v", st, err)
	}
	if err := d.Stop(ctx, own, time.Second); err != nil {
		t.Fatalf("Stop(own) = %v", err)
	}
	if c, err := raw.Inspect(ctx, own); err != nil || c.State == ports.StateRunning {
		t.Fatalf("own container after Stop = %+v, %v; want stopped", c, err)
	}
	if err := d.Remove(ctx, own); err != nil {
		t.Fatalf("Remove(own) = %v", err)
	}
	if _, err := raw.Inspect(ctx, own); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("own container after Remove: %v, want gone", err)
	}

	// An outage is not "gone": Remove reports it instead of pretending
	// the container no longer exists.
	raw.SetDown(true)
	if err := d.Remove(ctx, foreign); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("Remove while the runtime is down = %v, want ErrUnavailable", err)
	}
	raw.SetDown(false)

	// A driver without the optional sources answers ErrUnsupported for
	// the scope's own container.
	plain := scopedDriver{RuntimeDriver: raw.Driver, scope: "default"}
	if err := plain.Logs(ctx, foreign, ports.LogOptions{}, io.Discard); !errors.Is(err, ports.ErrUnsupported) {
		t.Errorf("Logs without a LogSource = %v, want ErrUnsupported", err)
	}
	if _, err := plain.Stats(ctx, foreign); !errors.Is(err, ports.ErrUnsupported) {
		t.Errorf("Stats without a StatsSource = %v, want ErrUnsupported", err)
	}
}
