package drivertest

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PluginProcess is implemented by a driver backed by a plugin process, such
// as the plugin host (adapters/pluginhost.Host). The PluginProcessGroup
// case runs only for such drivers.
type PluginProcess interface {
	// PluginPID returns the pid of the live plugin, 0 while it is down.
	PluginPID() int
	// KillPlugin SIGKILLs the plugin process (a crash) and returns its pid;
	// the driver must then end the plugin's children and start a new one.
	KillPlugin() (int, error)
}

func init() {
	cases = append(cases, struct {
		name string
		run  func(*testing.T, Harness)
	}{"PluginProcessGroup", testPluginProcessGroup})
}

// testPluginProcessGroup: the plugin leads its own process group, and no
// process of that group outlives the plugin, whether it crashed (SIGKILL)
// or the driver was closed. A plugin that spawns helpers (a `docker
// events` it reads) must not leave them orphaned.
func testPluginProcessGroup(t *testing.T, h Harness) {
	d := h.New(t)
	pp, ok := d.(PluginProcess)
	if !ok {
		t.Skipf("%T runs no plugin process", d)
	}
	pid := pp.PluginPID()
	if pid == 0 {
		t.Fatalf("no live plugin")
	}
	if members := groupMembers(pid); !contains(members, pid) {
		t.Fatalf("plugin %d does not lead its own process group (group %d holds %v)", pid, pid, members)
	}
	if _, err := pp.KillPlugin(); err != nil {
		t.Fatalf("KillPlugin: %v", err)
	}
	waitGroupGone(t, pid, 10*time.Second+h.Slack, "after the plugin was killed")
	deadline := time.Now().Add(h.StartTimeout)
	next := pp.PluginPID()
	for next == 0 || next == pid {
		if time.Now().After(deadline) {
			t.Fatalf("no new plugin within %s after the kill", h.StartTimeout)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
		next = pp.PluginPID()
	}
	c, ok := d.(io.Closer)
	if !ok {
		return
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitGroupGone(t, next, 10*time.Second+h.Slack, "after Close")
}

func waitGroupGone(t *testing.T, pgid int, timeout time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := groupMembers(pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of plugin group %d still run %s %s later", left, pgid, when, timeout)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// groupMembers lists the live (non-zombie) processes of process group pgid.
func groupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		pids = append(pids, pid)
	}
	return pids
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
