package containerd

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"

	client "github.com/containerd/containerd/v2/client"
)

// cgroupRoot is where the host's cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// oomKilled reports whether the kernel OOM-killed a process of ctr's
// cgroup. It reads the cgroup the exited task leaves behind until it is
// deleted (memory.events on cgroup v2, memory.oom_control on v1), which
// works when the driver shares the host with the daemon; anything it cannot
// read counts as no.
func (d *Driver) oomKilled(ctx context.Context, ctr client.Container) bool {
	spec, err := ctr.Spec(ctx)
	if err != nil || spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return false
	}
	path := spec.Linux.CgroupsPath
	if strings.Contains(path, ":") {
		return false // a systemd slice:prefix:name path; not created by this driver
	}
	for _, f := range []string{
		filepath.Join(cgroupRoot, path, "memory.events"),
		filepath.Join(cgroupRoot, "memory", path, "memory.oom_control"),
	} {
		if n, ok := readCounter(f, "oom_kill"); ok {
			return n != "0"
		}
	}
	return false
}

// readCounter returns the value of the "key value" line key in file.
func readCounter(file, key string) (string, bool) {
	f, err := os.Open(file)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
