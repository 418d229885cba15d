package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/galaxy-game/rtmanager/ports"
)

// defaultMaxOpenFiles is an engine's RLIMIT_NOFILE when Config.MaxOpenFiles
// is zero.
const defaultMaxOpenFiles = 4096

// limitScript sets an engine's rlimits in the shell that then execs it (exec
// keeps the pid, so pid and start time still name the engine). Arguments:
// RLIMIT_NOFILE, RLIMIT_AS in KiB (0: none), RLIMIT_NPROC (0: none), then
// the command. dash spells RLIMIT_NPROC -p, bash and busybox -u; a limit
// that cannot be set fails the start (exit 126) rather than run unlimited.
const limitScript = `ulimit -c 0 && ulimit -n "$1" &&
{ [ "$2" = 0 ] || ulimit -v "$2"; } &&
{ [ "$3" = 0 ] || ulimit -u "$3" 2>/dev/null || ulimit -p "$3"; } || exit 126
shift 3
exec "$@"`

// checkIsolation validates the isolation settings of cfg, prepares the
// cgroup root, and logs plainly when engines are not isolated.
func (d *Driver) checkIsolation() error {
	if d.cfg.User != "" {
		if _, err := parseUser(d.cfg.User); err != nil {
			return err
		}
	}
	if root := d.cfg.ImageRoot; root != "" && (!filepath.IsAbs(root) || filepath.Clean(root) != root) {
		return fmt.Errorf("image root %q: want a clean absolute path", root)
	}
	if d.cfg.ImageDir != "" {
		// Bare names resolve in the real directory, so they pass the
		// symlink check of checkImagePath.
		if real, err := filepath.EvalSymlinks(d.cfg.ImageDir); err == nil {
			d.cfg.ImageDir = real
		}
	}
	if d.cfg.CgroupRoot != "" {
		if err := prepareCgroupRoot(d.cfg.CgroupRoot); err != nil {
			return fmt.Errorf("cgroup root %s: %w", d.cfg.CgroupRoot, err)
		}
	}
	if d.cfg.User == "" || d.cfg.CgroupRoot == "" {
		d.log.Warn("the process driver is for development: engines run as the plugin's own user"+
			" (or RTMANAGER_ENGINE_USER) and without cgroup memory/CPU/pids limits unless the plugin"+
			" is given --user and --cgroup-root (RTMANAGER_PLUGIN_ARGS); see docs/plugins.md",
			"uid", os.Geteuid(), "user", d.cfg.User, "cgroup_root", d.cfg.CgroupRoot)
	}
	return nil
}

// parseUser parses a numeric "uid:gid".
func parseUser(s string) (*syscall.Credential, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q: want numeric uid:gid: %w", s, ports.ErrInvalid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// credential returns the user an engine of spec runs as (spec.User, else
// Config.User), or nil to keep the driver's own.
func (d *Driver) credential(spec ports.ContainerSpec) (*syscall.Credential, error) {
	user := spec.User
	if user == "" {
		user = d.cfg.User
	}
	if user == "" {
		return nil, nil
	}
	cred, err := parseUser(user)
	if err != nil {
		return nil, err
	}
	if euid := os.Geteuid(); euid != 0 && (int(cred.Uid) != euid || int(cred.Gid) != os.Getegid()) {
		return nil, fmt.Errorf("running engines as %s needs the plugin to run as root (it runs as uid %d): %w", user, euid, ports.ErrInvalid)
	}
	return cred, nil
}

// checkImagePath refuses an executable path that is not exactly what runs:
// one that is not clean, that leaves Config.ImageRoot, or that resolves
// through a symlink (rtmanager's allow-list matched the clean path, so a
// link would run something it never allowed).
func (d *Driver) checkImagePath(image, path string) error {
	if filepath.Clean(path) != path {
		return fmt.Errorf("image %q: %s is not a clean path: %w", image, path, ports.ErrInvalid)
	}
	if root := d.cfg.ImageRoot; root != "" && !strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/") {
		return fmt.Errorf("image %q: %s is outside the image root %s: %w", image, path, root, ports.ErrInvalid)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("image %q: %w: %w", image, err, ports.ErrImageUnavailable)
	}
	if real != path {
		return fmt.Errorf("image %q: %s resolves to %s; symlinks are refused: %w", image, path, real, ports.ErrInvalid)
	}
	return nil
}

// openExact opens the executable at path for exec through /proc/self/fd,
// refusing a symlink in any component (openat2 RESOLVE_NO_SYMLINKS), so what
// runs is the file checkImagePath approved even if a component was swapped
// for a link since.
func openExact(path string) (*os.File, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) { // kernels before 5.6: the last component at least
		fd, err = unix.Open(path, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s: a path component is a symlink: %w", path, ports.ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w: %w", path, err, ports.ErrImageUnavailable)
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		f.Close()
		return nil, fmt.Errorf("%s is not an executable file: %w", path, ports.ErrImageUnavailable)
	}
	return f, nil
}

// command builds the engine's command: the exact file at path (through an
// fd), in its own process group, under its rlimits, as its user, and in its
// cgroup when a cgroup root is configured. done releases what the parent
// holds once the command has started (or failed to).
func (d *Driver) command(spec ports.ContainerSpec, path, id string) (cmd *exec.Cmd, done func(), err error) {
	cred, err := d.credential(spec)
	if err != nil {
		return nil, nil, err
	}
	if spec.ReadOnlyRootFS {
		return nil, nil, fmt.Errorf("the process driver shares the host's filesystem and cannot make it read-only (unset RTMANAGER_READ_ONLY_ROOTFS): %w", ports.ErrInvalid)
	}
	exe, err := openExact(path)
	if err != nil {
		return nil, nil, err
	}
	nofile := d.cfg.MaxOpenFiles
	if nofile == 0 {
		nofile = defaultMaxOpenFiles
	}
	var kib, nproc int64
	if spec.Limits.MemoryBytes > 0 {
		kib = (spec.Limits.MemoryBytes + d.cfg.AddressSpaceSlack + 1023) / 1024
	}
	if cred != nil && cred.Uid != 0 {
		// RLIMIT_NPROC counts every process of the uid and binds no root
		// process, so it applies only to a dedicated engine user.
		nproc = spec.Limits.PidsLimit
	}
	cmd = exec.Command("/bin/sh", "-c", limitScript, "rtm-limit",
		strconv.FormatUint(nofile, 10), strconv.FormatInt(kib, 10), strconv.FormatInt(nproc, 10), "/proc/self/fd/3")
	cmd.ExtraFiles = []*os.File{exe}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	done = func() { exe.Close() }
	if d.cfg.CgroupRoot != "" {
		cg, err := createCgroup(d.cgroupPath(id), spec.Limits)
		if err != nil {
			exe.Close()
			return nil, nil, fmt.Errorf("engine cgroup: %w", err)
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cg.Fd())
		done = func() { exe.Close(); cg.Close() }
	}
	return cmd, done, nil
}

// cgroupPath is the cgroup of engine id under Config.CgroupRoot.
func (d *Driver) cgroupPath(id string) string {
	return filepath.Join(d.cfg.CgroupRoot, "rtm-"+id[:16])
}

// prepareCgroupRoot checks that root is a writable cgroup v2 directory and
// enables the memory, cpu and pids controllers for its children.
func prepareCgroupRoot(root string) error {
	var fs unix.Statfs_t
	if err := unix.Statfs(root, &fs); err != nil {
		return err
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return errors.New("not a cgroup v2 directory")
	}
	have, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return err
	}
	for _, c := range []string{"memory", "cpu", "pids"} {
		if !strings.Contains(" "+strings.TrimSpace(string(have))+" ", " "+c+" ") {
			return fmt.Errorf("controller %s is not available (cgroup.controllers: %q)", c, strings.TrimSpace(string(have)))
		}
	}
	return os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory +cpu +pids"), 0)
}

// createCgroup makes the engine's cgroup with its limits and returns it
// open, for clone into it (SysProcAttr.CgroupFD).
func createCgroup(dir string, l ports.Limits) (*os.File, error) {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	files := map[string]string{}
	if l.MemoryBytes > 0 {
		files["memory.max"] = strconv.FormatInt(l.MemoryBytes, 10)
		files["memory.swap.max"] = "0"
	}
	if l.NanoCPUs > 0 {
		const period = 100000 // µs
		files["cpu.max"] = fmt.Sprintf("%d %d", max(l.NanoCPUs*period/1e9, 1000), period)
	}
	if l.PidsLimit > 0 {
		files["pids.max"] = strconv.FormatInt(l.PidsLimit, 10)
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0); err != nil && !(name == "memory.swap.max" && errors.Is(err, os.ErrNotExist)) {
			_ = os.Remove(dir)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return os.Open(dir)
}

// cgroupOOM reports whether the kernel OOM-killed a process of engine id's
// cgroup (memory.events oom_kill).
func (d *Driver) cgroupOOM(id string) bool {
	if d.cfg.CgroupRoot == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(d.cgroupPath(id), "memory.events"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if n, ok := strings.CutPrefix(line, "oom_kill "); ok && n != "0" {
			return true
		}
	}
	return false
}

// releaseCgroup ends what is left in engine id's cgroup (its descendants
// die with it, as in a container) and removes the cgroup.
func (d *Driver) releaseCgroup(id string) {
	if d.cfg.CgroupRoot == "" {
		return
	}
	dir := d.cgroupPath(id)
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				d.log.Warn("remove engine cgroup", "id", id, "error", err)
			}
			return
		}
		time.Sleep(20 * time.Millisecond) // the kernel empties a killed cgroup asynchronously
	}
}
