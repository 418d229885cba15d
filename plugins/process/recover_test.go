package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newDriver(t *testing.T, cfg process.Config) *process.Driver {
	t.Helper()
	d, err := process.New(cfg)
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// startTicks reads field 22 of /proc/<pid>/stat.
func startTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeRecord writes a container file as a driver process that has since
// died would have left it.
func writeRecord(t *testing.T, dir, id string, pid int, ticks uint64, port int) {
	t.Helper()
	rec := map[string]any{
		"id": id, "name": "rtm-" + id[:8] + "-1", "image": "file:///engine", "path": "/engine",
		"labels": map[string]string{ports.LabelGameID: "recover"},
		"port":   port, "pid": pid, "start_ticks": ticks,
		"owner_pid": deadPid(t), "owner_start_ticks": 1,
		"state": "running", "created_at": time.Now().UTC(), "started_at": time.Now().UTC(),
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRecover: a new driver adopts an engine whose driver process died (it
// lists it running, stops it, and reports exit code -1: it is not its
// child), and marks exited the engines whose process is gone or whose pid
// now names another process.
func TestRecover(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	engine := exec.Command(testenv.EngineBinary(t))
	engine.Env = []string{"PORT=" + strconv.Itoa(port)}
	engine.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := engine.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Process.Kill(); _ = engine.Wait() })

	live, gone, reused := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	writeRecord(t, dir, live, engine.Process.Pid, startTicks(t, engine.Process.Pid), port)
	writeRecord(t, dir, gone, deadPid(t), 1, freePort(t))
	writeRecord(t, dir, reused, os.Getpid(), startTicks(t, os.Getpid())+1, freePort(t))

	d := newDriver(t, process.Config{StateDir: dir})
	events, err := d.Events(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := d.List(ctxT(t), map[string]string{ports.LabelGameID: "recover"})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]ports.Container{}
	for _, c := range cs {
		state[c.ID] = c
	}
	if c := state[live]; c.State != ports.StateRunning || c.Endpoint != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Errorf("adopted engine = %q at %q, want running at port %d", c.State, c.Endpoint, port)
	}
	for _, id := range []string{gone, reused} {
		if c := state[id]; c.State != ports.StateExited || c.ExitCode != -1 {
			t.Errorf("%s… = %q code %d, want exited -1", id[:4], c.State, c.ExitCode)
		}
	}
	if err := d.Stop(ctxT(t), live, 10*time.Second); err != nil {
		t.Fatalf("Stop of the adopted engine: %v", err)
	}
	for {
		select {
		case e := <-events:
			if e.Type != ports.EventExited || e.ContainerID != live {
				continue
			}
			if e.ExitCode != -1 {
				t.Errorf("exit code of an adopted engine = %d, want -1 (unknown)", e.ExitCode)
			}
			c, err := d.Inspect(ctxT(t), live)
			if err != nil || c.State != ports.StateExited {
				t.Errorf("Inspect after Stop = %+v, %v", c, err)
			}
			return
		case <-time.After(30 * time.Second):
			t.Fatal("no exited event for the adopted engine")
		}
	}
}

// TestOOMHeuristic: an engine that runs out of its address-space limit is
// reported OOMKilled with an oom event.
func TestOOMHeuristic(t *testing.T) {
	d := newDriver(t, process.Config{StateDir: t.TempDir(), AddressSpaceSlack: 768 << 20})
	events, err := d.Events(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Start(ctxT(t), ports.ContainerSpec{
		Name: "rtm-oom-1", Image: "file://" + testenv.EngineBinary(t),
		Env:    map[string]string{"ENGINE_OOM": "1"},
		Limits: ports.Limits{MemoryBytes: 64 << 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(context.Background(), c.ID) })
	sawOOM := false
	for {
		select {
		case e := <-events:
			if e.ContainerID != c.ID {
				continue
			}
			if e.Type == ports.EventOOM {
				sawOOM = true
			}
			if e.Type != ports.EventExited {
				continue
			}
			got, err := d.Inspect(ctxT(t), c.ID)
			if err != nil || !got.OOMKilled || !sawOOM {
				t.Errorf("after OOM: %+v, %v, oom event %v; want OOMKilled and an oom event", got, err, sawOOM)
			}
			return
		case <-time.After(60 * time.Second):
			t.Fatal("the engine never ran out of memory")
		}
	}
}

// TestImages: file:// refs and bare names in the image dir resolve; the
// rest fail with the right sentinel.
func TestImages(t *testing.T) {
	imageDir := t.TempDir()
	exe := filepath.Join(imageDir, "engine")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imageDir, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, process.Config{StateDir: t.TempDir(), ImageDir: imageDir})
	tests := []struct {
		image string
		want  error
	}{
		{"file://" + exe, nil},
		{"engine", nil},
		{"missing", ports.ErrImageUnavailable},
		{"data", ports.ErrImageUnavailable},
		{"file:///nonexistent/engine", ports.ErrImageUnavailable},
		{"file://relative/engine", ports.ErrInvalid},
		{"../engine", ports.ErrInvalid},
		{"", ports.ErrInvalid},
	}
	for _, tt := range tests {
		err := d.PrepareImage(ctxT(t), tt.image)
		if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("PrepareImage(%q) = %v, want %v", tt.image, err, tt.want)
		}
	}
}
