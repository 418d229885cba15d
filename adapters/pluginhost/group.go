package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/ports"
)

// killClient ends a plugin and everything left in its process group: go-plugin's
// Kill (a graceful close, then SIGKILL to the plugin) reaps the plugin, then
// the group gets SIGKILL. The group id is the plugin's pid (Setpgid), and
// Linux keeps that number from being reused while any member of the group
// lives, so the signal reaches only the plugin's own descendants.
func killClient(pc *plugin.Client) {
	pid, _ := strconv.Atoi(pc.ID())
	pc.Kill()
	if pid > 1 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// PluginPID returns the pid of the live plugin process, which is also its
// process group id, or 0 while the plugin is down. For tests and
// diagnostics: the host itself never signals a pid it looked up.
func (h *Host) PluginPID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == nil || h.client.Exited() {
		return 0
	}
	pid, _ := strconv.Atoi(h.client.ID())
	return pid
}

// KillPlugin SIGKILLs the plugin process (not its group), as a crash would,
// and returns its pid. The host then notices, ends what is left of the
// plugin's process group and starts a new plugin, exactly as after a real
// crash. Conformance suites use it to prove recovery (sdktest.RestartPlugin).
// It returns an error wrapping ports.ErrUnavailable while the plugin is
// down.
func (h *Host) KillPlugin() (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == nil || h.client.Exited() {
		return 0, fmt.Errorf("no live driver plugin to kill: %w", ports.ErrUnavailable)
	}
	pid, err := strconv.Atoi(h.client.ID())
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("driver plugin has no pid (%q)", h.client.ID())
	}
	// The plugin is the host's child and go-plugin reaps it only after it
	// died, so this pid is the plugin's or a zombie's.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("kill driver plugin %d: %w", pid, err)
	}
	return pid, nil
}

// removeCopy deletes the verified copy of the plugin binary.
func (h *Host) removeCopy() {
	if h.exeDir != "" {
		_ = os.RemoveAll(h.exeDir)
		h.exeLock.Close()
	}
}

// removeStaleCopies deletes the verified copies that hosts which were
// killed left in dir: those whose lock file no live host holds.
func removeStaleCopies(dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "verified-*"))
	for _, p := range paths {
		f, err := os.Open(filepath.Join(p, ".lock"))
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = os.RemoveAll(p)
		}
		f.Close()
	}
}

// Protocol returns the driver protocol version the live plugin and the
// host agreed on at handshake (driverplugin.ProtocolVersion for a plugin
// built on the current SDK: unary calls as frames; 1 or 2 for an older
// plugin: every call over gRPC), or 0 while the plugin is down.
func (h *Host) Protocol() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == nil || h.client.Exited() {
		return 0
	}
	return h.client.NegotiatedVersion()
}
