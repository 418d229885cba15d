package lifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestStartAfterDatabaseResetKeepsForeignImage runs the services on a real
// driver (the process driver: engines are real processes) and loses the
// database between two starts of one game. The second start, of another
// image, reserves generation 1 again and so names the container the first
// one left running: it must answer conflict and leave that engine alone,
// not adopt it as the new image's container (SPEC §11 "Scopes").
func TestStartAfterDatabaseResetKeepsForeignImage(t *testing.T) {
	engine := testenv.EngineBinary(t)
	imgX, imgY := copyEngine(t, engine, "x"), copyEngine(t, engine, "y")
	// Not t.TempDir: the driver's watcher may still write a file while the
	// directory is removed, which t.TempDir reports as a failure.
	stateDir, err := os.MkdirTemp("", "rtm-dbreset-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stateDir) })
	drv, err := process.New(process.Config{StateDir: stateDir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	t.Cleanup(func() { drv.Close() })
	services := func() *lifecycle.Services { // a fresh, empty database each call
		store := memory.NewStore()
		svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Leases: memory.NewLeases(nil),
			Driver: drv, Health: memory.NewHealthRecorder(), Snapshots: store,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Config: lifecycle.Config{Scope: "blue", StartTimeout: 20 * time.Second, StopTimeout: 2 * time.Second, ImageSchemes: []string{core.FileScheme}}})
		if err != nil {
			t.Fatalf("lifecycle.New: %v", err)
		}
		return svc
	}
	const game = "dbreset"
	t.Cleanup(func() {
		cs, _ := drv.List(t.Context(), map[string]string{ports.LabelGameID: game})
		for _, c := range cs {
			_ = drv.Remove(t.Context(), c.ID)
		}
	})
	start := func(svc *lifecycle.Services, image string) lifecycle.Result {
		t.Helper()
		res, err := svc.Start.Handle(t.Context(), lifecycle.StartInput{GameID: game, ImageRef: image,
			Meta: lifecycle.Meta{Source: core.SourceREST, SourceRef: "t"}})
		if err != nil {
			t.Fatalf("start %s: %v", image, err)
		}
		return res
	}

	first := start(services(), imgX)
	if first.Outcome != core.OutcomeSuccess {
		t.Fatalf("first start: %s %s", first.ErrorCode, first.ErrorMessage)
	}
	if want := core.ContainerName("blue", game, 1); first.Record.Generation != 1 {
		t.Fatalf("first start generation %d, want 1 (container %s)", first.Record.Generation, want)
	}

	second := start(services(), imgY) // the database was reset
	if second.Outcome != core.OutcomeFailure || second.ErrorCode != core.CodeConflict {
		t.Errorf("start of %s after a reset = %s/%s (container %s), want failure/conflict",
			imgY, second.Outcome, second.ErrorCode, second.Record.ContainerID)
	}
	c, err := drv.Inspect(t.Context(), first.Record.ContainerID)
	if err != nil {
		t.Fatalf("the first engine's container is gone: %v", err)
	}
	if c.State != ports.StateRunning || c.Labels[ports.LabelImageRef] != imgX || c.Name != core.ContainerName("blue", game, 1) {
		t.Errorf("first engine's container = %s %s image %q, want running %s image %q",
			c.Name, c.State, c.Labels[ports.LabelImageRef], core.ContainerName("blue", game, 1), imgX)
	}
}

// copyEngine copies the engine binary into its own directory and returns
// its file:// image reference.
func copyEngine(t *testing.T, src, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// TestForeignContainerIsInvisible: a record whose container id names a
// container of another scope (containerd and the process driver reuse
// names as ids, and the default scope's rtm-blue-g-1 is scope blue's name
// for game g) is stopped and removed as a vanished container: the foreign
// engine keeps running, untouched.
func TestForeignContainerIsInvisible(t *testing.T) {
	engine := "file://" + testenv.EngineBinary(t)
	stateDir, err := os.MkdirTemp("", "rtm-foreign-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stateDir) })
	drv, err := process.New(process.Config{StateDir: stateDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	t.Cleanup(func() { drv.Close() })
	foreign, err := drv.Start(t.Context(), ports.ContainerSpec{Name: core.ContainerName("blue", "g", 1), Image: engine, Port: 8080,
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelScope: "blue", ports.LabelGameID: "g",
			ports.LabelGeneration: "1", ports.LabelImageRef: engine}})
	if err != nil {
		t.Fatalf("start the foreign engine: %v", err)
	}
	t.Cleanup(func() { _ = drv.Remove(context.Background(), foreign.ID) })

	store := memory.NewStore()
	now := time.Now().UTC()
	rec := core.Record{GameID: "blue-g", Status: core.StatusRunning, ContainerID: foreign.ID, ImageRef: engine,
		Endpoint: foreign.Endpoint, Generation: 1, CreatedAt: now, StartedAt: &now, LastOpAt: now}
	if err := store.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	svc, err := lifecycle.New(lifecycle.Deps{Records: store, Operations: store, Leases: memory.NewLeases(nil),
		Driver: drv, Health: memory.NewHealthRecorder(), Snapshots: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: lifecycle.Config{StartTimeout: 20 * time.Second, StopTimeout: 2 * time.Second, ImageSchemes: []string{core.FileScheme}}})
	if err != nil {
		t.Fatalf("lifecycle.New: %v", err)
	}
	res, err := svc.Stop.Handle(t.Context(), lifecycle.StopInput{GameID: "blue-g", Reason: core.ReasonAdminRequest,
		Meta: lifecycle.Meta{Source: core.SourceREST, SourceRef: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Record.Status != core.StatusRemoved {
		t.Errorf("stop of a record whose container is foreign: %s %s, record %s; want it treated as vanished (removed)",
			res.Outcome, res.ErrorCode, res.Record.Status)
	}
	if c, err := drv.Inspect(t.Context(), foreign.ID); err != nil || c.State != ports.StateRunning {
		t.Errorf("foreign engine after the stop: %+v, %v; want it running, untouched", c, err)
	}
}
