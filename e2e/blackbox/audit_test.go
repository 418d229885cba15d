//go:build e2e

package blackbox

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

// correlated returns the entries of ops sharing the correlation id of the
// newest entry of kind, which must exist and carry one.
func correlated(t *testing.T, ops []operation, kind string) (outer operation, group []operation) {
	t.Helper()
	for _, o := range ops {
		if o.OpKind == kind {
			outer = o
			break
		}
	}
	if outer.OpKind == "" || outer.CorrelationID == "" {
		t.Fatalf("no %s entry with a correlation id in %+v", kind, ops)
	}
	for _, o := range ops {
		if o.CorrelationID == outer.CorrelationID {
			group = append(group, o)
		}
	}
	// Oldest first, so the inner steps read in order.
	sort.Slice(group, func(i, j int) bool { return group[i].ID < group[j].ID })
	return outer, group
}

// shape renders entries as "kind:outcome:code@image" for comparison.
func shape(ops []operation, images map[string]string) []string {
	var out []string
	for _, o := range ops {
		s := o.OpKind + ":" + o.Outcome
		if o.ErrorCode != "" {
			s += ":" + o.ErrorCode
		}
		if name, ok := images[o.ImageRef]; ok && o.OpKind == "start" {
			s += "@" + name
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func sameShape(got, want []string) bool {
	sort.Strings(want)
	return strings.Join(got, ",") == strings.Join(want, ",")
}

// testAudit checks the operation log of restart and patch: the outer entry
// and the inner stop and start share one correlation id, and a patch whose
// new image dies at start-up rolls back to the old image.
func testAudit(t *testing.T, s *suite) {
	names := map[string]string{s.image: "image", s.other: "other", s.bad: "bad", missingImage: "missing"}

	t.Run("restart", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "au-rs")
		first := mustOp(t, s.inst, g, "start", startBody(s.image, nil), "X-Request-Id", "first-"+g)
		after := mustOp(t, s.inst, g, "restart", nil, "X-Request-Id", "restart-"+g)
		outer, group := correlated(t, operations(t, s.inst, g), "restart")
		if got, want := shape(group, names), []string{"restart:success", "stop:success", "start:success@image"}; !sameShape(got, want) {
			t.Fatalf("restart correlation group %v, want %v (%+v)", got, want, group)
		}
		for _, o := range group {
			if o.OpSource != "rest" || o.SourceRef != "restart-"+g {
				t.Errorf("entry %+v: want op_source rest, source_ref restart-%s", o, g)
			}
			switch o.OpKind {
			case "stop":
				if o.ContainerID != first.ContainerID {
					t.Errorf("inner stop names container %s, want the old %s", o.ContainerID, first.ContainerID)
				}
			case "start":
				if o.ContainerID != after.ContainerID {
					t.Errorf("inner start names container %s, want the new %s", o.ContainerID, after.ContainerID)
				}
			}
		}
		ops := operations(t, s.inst, g)
		if first := ops[len(ops)-1]; first.CorrelationID == outer.CorrelationID {
			t.Errorf("the first start shares the restart's correlation id %s", outer.CorrelationID)
		}
		checkDocker(t, g, mustRuntime(t, s.inst, g))
	})

	t.Run("patch", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "au-pa")
		mustOp(t, s.inst, g, "start", startBody(s.image, map[string]string{"MODE": "kept"}))
		rt := mustOp(t, s.inst, g, "patch", map[string]any{"image_ref": s.other})
		if rt.ImageRef != s.other || rt.Generation != 2 {
			t.Fatalf("patched runtime %+v, want image %s generation 2", rt, s.other)
		}
		_, group := correlated(t, operations(t, s.inst, g), "patch")
		if got, want := shape(group, names), []string{"patch:success", "stop:success", "start:success@other"}; !sameShape(got, want) {
			t.Fatalf("patch correlation group %v, want %v (%+v)", got, want, group)
		}
		if st, body := engineGet(rt.Endpoint, "/env"); st != http.StatusOK || !strings.Contains(body, `"MODE":"kept"`) {
			t.Errorf("patched engine env %d %s lacks the start's env", st, body)
		}
		checkDocker(t, g, mustRuntime(t, s.inst, g))
	})

	t.Run("patch rollback", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "au-rb")
		before := mustOp(t, s.inst, g, "start", startBody(s.image, nil))
		a := op(t, s.inst, g, "patch", map[string]any{"image_ref": s.bad})
		if a.HTTP != http.StatusBadGateway || a.Error.Code != "start_failed" {
			t.Fatalf("patch to a dying image = %s, want 502 start_failed", a)
		}
		rt := mustRuntime(t, s.inst, g)
		if rt.Status != "running" || rt.ImageRef != s.image || rt.ContainerID == before.ContainerID {
			t.Fatalf("after rollback %+v; want running on %s in a new container", rt, s.image)
		}
		if rt.Generation != before.Generation+2 {
			t.Errorf("generation %d, want %d (the failed start and the rollback)", rt.Generation, before.Generation+2)
		}
		checkEngine(t, rt)
		checkDocker(t, g, rt)
		outer, group := correlated(t, operations(t, s.inst, g), "patch")
		want := []string{"patch:failure:start_failed", "stop:success", "start:failure:start_failed@bad", "start:success@image"}
		if got := shape(group, names); !sameShape(got, want) {
			t.Fatalf("patch correlation group %v, want %v (%+v)", got, want, group)
		}
		// The outer entry's image_ref is the image the runtime ended on (the
		// old one); the failed image is named by the inner start and the
		// message.
		if !strings.Contains(outer.ErrorMessage, "rolled back") || outer.ContainerID != rt.ContainerID {
			t.Errorf("patch entry %+v: want a message telling of the rollback and container %s", outer, rt.ContainerID)
		}
	})

	t.Run("patch image_unavailable", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "au-iu")
		before := mustOp(t, s.inst, g, "start", startBody(s.image, nil))
		a := op(t, s.inst, g, "patch", map[string]any{"image_ref": missingImage}, "X-Admin-User", "bob")
		if a.HTTP != http.StatusUnprocessableEntity || a.Error.Code != "image_unavailable" {
			t.Fatalf("patch to a missing image = %s, want 422 image_unavailable", a)
		}
		rt := mustRuntime(t, s.inst, g)
		if rt.Status != "running" || rt.ContainerID != before.ContainerID || rt.Generation != before.Generation {
			t.Fatalf("after a refused patch %+v; want the untouched %+v (no downtime)", rt, before)
		}
		checkDocker(t, g, rt)
		_, group := correlated(t, operations(t, s.inst, g), "patch")
		if got, want := shape(group, names), []string{"patch:failure:image_unavailable"}; !sameShape(got, want) {
			t.Fatalf("patch correlation group %v, want %v (%+v)", got, want, group)
		}
		if o := group[0]; o.OpSource != "admin" || o.SourceRef != "bob" {
			t.Errorf("patch entry %+v: want op_source admin, source_ref bob", o)
		}
	})

	t.Run("start of a dying image", func(t *testing.T) {
		t.Parallel()
		g := s.game(t, "au-sd")
		a := op(t, s.inst, g, "start", startBody(s.bad, nil))
		if a.HTTP != http.StatusBadGateway || a.Error.Code != "start_failed" {
			t.Fatalf("start of a dying image = %s, want 502 start_failed", a)
		}
		// A failed start leaves no container; the record (if any) is removed.
		rt, found := getRuntime(t, s.inst, g)
		if found && rt.Status != "removed" {
			t.Fatalf("after a failed start %+v; want removed", rt)
		}
		checkDocker(t, g, runtimeView{})
		ops := operations(t, s.inst, g)
		if len(ops) != 1 || ops[0].OpKind != "start" || ops[0].Outcome != "failure" || ops[0].ErrorCode != "start_failed" {
			t.Errorf("operations %+v, want one failed start", ops)
		}
	})
}
