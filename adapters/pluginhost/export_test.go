package pluginhost

import "strconv"

// PluginPID returns the pid of h's live plugin process, or 0 while it is
// down. Tests only: the host itself never signals by pid.
func PluginPID(h *Host) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == nil {
		return 0
	}
	pid, _ := strconv.Atoi(h.client.ID())
	return pid
}
