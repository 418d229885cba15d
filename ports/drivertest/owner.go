package drivertest

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// foreignVariants are specs that name an existing container but claim
// another owner: Start must answer ErrConflict and leave it alone.
var foreignVariants = []struct {
	name  string
	label string
	value string
}{
	{"OtherScope", ports.LabelScope, "other"},
	{"OtherImage", ports.LabelImageRef, "registry.invalid/other-engine:2"},
	{"OtherGeneration", ports.LabelGeneration, "999"},
	{"OtherGame", ports.LabelGameID, "dt-someone-else"},
}

// testForeignOwner: a container named like the spec whose scope, game,
// generation or image labels differ is neither adopted (running) nor
// replaced (exited): Start returns ErrConflict and the container keeps its
// id, state and labels (SPEC §11 "Scopes").
func testForeignOwner(t *testing.T, h Harness) {
	f := newFixture(t, h)
	spec := f.spec(nil)
	spec.Labels[ports.LabelScope] = "blue"
	c, _ := f.start(spec)
	for _, exited := range []bool{false, true} {
		if exited {
			f.stop(f.d, c.ID, 10*time.Second)
		}
		for _, v := range foreignVariants {
			foreign := spec
			foreign.Labels = maps.Clone(spec.Labels)
			foreign.Labels[v.label] = v.value
			_, err := f.d.Start(ctxFor(t, h.StartTimeout), foreign)
			if !errors.Is(err, ports.ErrConflict) {
				t.Errorf("exited=%v %s: Start over a container with other labels = %v, want ErrConflict", exited, v.name, err)
			}
			got := f.inspect(f.d, c.ID)
			if got.ID != c.ID || got.Name != spec.Name || got.Labels[v.label] != spec.Labels[v.label] {
				t.Errorf("exited=%v %s: the existing container changed: %s %q %s=%q, want %s %q %s=%q",
					exited, v.name, got.ID, got.Name, v.label, got.Labels[v.label], c.ID, spec.Name, v.label, spec.Labels[v.label])
			}
			if want := map[bool]ports.ContainerState{false: ports.StateRunning, true: ports.StateExited}[exited]; got.State != want {
				t.Errorf("exited=%v %s: existing container is %s, want %s", exited, v.name, got.State, want)
			}
		}
		if !exited {
			f.waitHealthy(c.Endpoint)
		}
	}
	f.wantIDs(f.d, map[string]string{ports.LabelGameID: f.game}, c.ID)
}

// testSameOwner: a container named like the spec with the same scope, game,
// generation and image is adopted while it runs and replaced once exited.
// A missing scope label and "default" are the same scope.
func testSameOwner(t *testing.T, h Harness) {
	f := newFixture(t, h)
	spec := f.spec(nil)
	spec.Labels[ports.LabelScope] = "blue"
	c, _ := f.start(spec)
	again, _ := f.start(spec)
	if again.ID != c.ID {
		t.Errorf("Start with the same labels = %s, want the running %s adopted", again.ID, c.ID)
	}
	f.stop(f.d, c.ID, 10*time.Second)
	replaced, _ := f.start(spec)
	f.waitHealthy(replaced.Endpoint)

	unscoped := f.spec(nil) // no scope label: the default scope
	u, _ := f.start(unscoped)
	explicit := unscoped
	explicit.Labels = maps.Clone(unscoped.Labels)
	explicit.Labels[ports.LabelScope] = ports.DefaultScope
	if got, _ := f.start(explicit); got.ID != u.ID {
		t.Errorf("Start with scope %q over an unlabelled container = %s, want %s adopted", ports.DefaultScope, got.ID, u.ID)
	}
}
