package sdk

import (
	"os"
	"path/filepath"
	"strings"
)

// envSocketDir is where go-plugin creates the plugin's unix socket; the
// host sets it (pluginhost.Config.UnixSocketDir).
const envSocketDir = "PLUGIN_UNIX_SOCKET_DIR"

// removeOwnSockets deletes the unix sockets this process listens on in the
// host's socket directory. go-plugin removes its socket only when Serve
// returns; a plugin that ends with os.Exit (its host died) would leave it
// behind, and while the process is still exiting the next host's clean-up
// still connects to it and so keeps it. The sockets are found through
// /proc: the process's socket inodes (/proc/self/fd) matched against the
// bound paths in /proc/self/net/unix. Nothing is removed off Linux or
// without a socket directory.
func removeOwnSockets() {
	dir := os.Getenv(envSocketDir)
	if dir == "" {
		return
	}
	for _, p := range ownSockets(dir) {
		_ = os.Remove(p)
	}
}

// ownSockets returns the paths in dir of the unix sockets bound by this
// process.
func ownSockets(dir string) []string {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	table, err := os.ReadFile("/proc/self/net/unix")
	if err != nil {
		return nil
	}
	dir = filepath.Clean(dir)
	var paths []string
	for _, line := range strings.Split(string(table), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(line)
		if len(f) < 8 || !inodes[f[6]] {
			continue
		}
		if p := strings.Join(f[7:], " "); filepath.Dir(p) == dir {
			paths = append(paths, p)
		}
	}
	return paths
}
