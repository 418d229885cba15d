package process_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

// cgroupRoot returns a new writable cgroup v2 directory with the memory, cpu
// and pids controllers, removed when t ends, or skips t: that needs root and
// a host whose controllers are on the v2 hierarchy (not bound to v1).
func cgroupRoot(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var mount string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if fields := strings.Fields(sc.Text()); len(fields) > 2 && fields[2] == "cgroup2" {
			mount = fields[1]
		}
	}
	if mount == "" {
		t.Skip("no cgroup v2 mount")
	}
	have, _ := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	for _, c := range []string{"memory", "cpu", "pids"} {
		if !strings.Contains(" "+string(have)+" ", " "+c+" ") {
			t.Skipf("cgroup v2 at %s lacks the %s controller (controllers: %q); it is bound to v1 here", mount, c, strings.TrimSpace(string(have)))
		}
	}
	root := filepath.Join(mount, fmt.Sprintf("rtm-test-%d", rand.Int64()))
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Skipf("cgroup v2 at %s is not writable: %v", mount, err)
	}
	t.Cleanup(func() { os.Remove(root) })
	return root
}

// TestCgroupLimits: with a cgroup root, an engine runs in its own cgroup
// with the spec's pids and memory limits, a fork bomb stays within
// pids.max even as root, and the cgroup goes with the engine.
func TestCgroupLimits(t *testing.T) {
	root := cgroupRoot(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "bomb.sh")
	out := filepath.Join(dir, "done")
	script := "#!/bin/sh\ni=0\nwhile [ $i -lt 64 ]; do sleep 60 & i=$((i+1)); done 2>/dev/null\necho done > \"$OUT\"\nexec sleep 60\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, process.Config{StateDir: t.TempDir(), CgroupRoot: root})
	c, err := d.Start(ctxT(t), ports.ContainerSpec{
		Name: "cg-bomb", Image: "file://" + exe, HostIP: "127.0.0.1",
		Limits: ports.Limits{PidsLimit: 8, MemoryBytes: 64 << 20, NanoCPUs: 5e8},
		Env:    map[string]string{"OUT": out},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cg := filepath.Join(root, "rtm-"+c.ID[:16])
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(out); err == nil {
			break
		}
		if got, err := d.Inspect(ctxT(t), c.ID); err == nil && got.State == ports.StateExited || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	for file, want := range map[string]string{"pids.max": "8", "memory.max": "67108864", "cpu.max": "50000 100000"} {
		if got, err := os.ReadFile(filepath.Join(cg, file)); err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
	procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
	if n := len(strings.Fields(string(procs))); n == 0 || n > 8 {
		t.Errorf("engine cgroup holds %d processes, want 1..8", n)
	}
	if err := d.Remove(ctxT(t), c.ID); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(cg); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine cgroup %s still exists after Remove", cg)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// TestDevelopmentWarning: a driver without --user and --cgroup-root says at
// start-up that it is for development.
func TestDevelopmentWarning(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	newDriver(t, process.Config{StateDir: t.TempDir(), Logger: log, User: "64000:64000"})
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "for development") {
		t.Errorf("start-up log %q lacks the development warning", buf.String())
	}
	if _, err := process.New(process.Config{StateDir: t.TempDir(), Logger: log, User: "nobody"}); err == nil {
		t.Errorf("New with a non-numeric user succeeded")
	}
}

// TestEngineChildrenEndWithIt: what an engine left running in its process
// group is killed when the engine exits, as a container's processes die
// with its init.
func TestEngineChildrenEndWithIt(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "leaver.sh")
	out := filepath.Join(dir, "child.pid")
	script := "#!/bin/sh\nsleep 60 &\necho $! > \"$OUT.tmp\" && mv \"$OUT.tmp\" \"$OUT\"\nexit 3\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, process.Config{StateDir: t.TempDir()})
	events, err := d.Events(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Start(ctxT(t), ports.ContainerSpec{Name: "leaver", Image: "file://" + exe, HostIP: "127.0.0.1", Env: map[string]string{"OUT": out}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = d.Remove(ctxT(t), c.ID) })
	for e := range events {
		if e.Type == ports.EventExited && e.ContainerID == c.ID {
			break
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	child := "/proc/" + strings.TrimSpace(string(data))
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.ReadFile(child + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's child %s still runs after the engine exited", child)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}
