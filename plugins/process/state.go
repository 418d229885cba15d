package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/galaxy-game/rtmanager/internal/logrotate"
	"github.com/galaxy-game/rtmanager/ports"
)

// record is one container as persisted in <state dir>/<id>.json.
type record struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Image  string            `json:"image"`
	Path   string            `json:"path"`
	Labels map[string]string `json:"labels,omitempty"`
	Port   int               `json:"port"`
	Pid    int               `json:"pid"`
	// StartTicks is field 22 of /proc/<pid>/stat when the process started.
	StartTicks uint64 `json:"start_ticks"`
	// OwnerPid and OwnerStartTicks name the driver process that watches the
	// engine and records its exit; another instance adopts the engine once
	// that process is gone.
	OwnerPid        int                  `json:"owner_pid"`
	OwnerStartTicks uint64               `json:"owner_start_ticks"`
	State           ports.ContainerState `json:"state"`
	ExitCode        int                  `json:"exit_code"`
	OOMKilled       bool                 `json:"oom_killed,omitempty"`
	// MemoryLimited records that an address-space limit was applied.
	MemoryLimited bool      `json:"memory_limited,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at,omitzero"`
}

var idRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (r *record) container() ports.Container {
	c := ports.Container{
		ID: r.ID, Name: r.Name, Image: r.Image, Labels: cloneMap(r.Labels),
		State: r.State, ExitCode: r.ExitCode, OOMKilled: r.OOMKilled,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	if r.State == ports.StateRunning {
		c.Endpoint = fmt.Sprintf("127.0.0.1:%d", r.Port)
	}
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (d *Driver) recordPath(id string) string { return filepath.Join(d.cfg.StateDir, id+".json") }
func (d *Driver) logPath(id string) string    { return filepath.Join(d.cfg.StateDir, id+".log") }

// save writes r atomically (temp file, fsync, rename).
func (d *Driver) save(r *record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.cfg.StateDir, ".tmp-"+r.ID+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), d.recordPath(r.ID))
}

// loadAll reads every container file of the state dir.
func (d *Driver) scan() ([]*record, error) {
	entries, err := os.ReadDir(d.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	var out []*record
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d.cfg.StateDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil || r.ID+".json" != name {
			d.log.Warn("skipping unreadable container file", "file", name, "error", err)
			continue
		}
		out = append(out, &r)
	}
	return out, nil
}

// withLock runs fn holding d.mu and an exclusive flock on <state dir>/.lock,
// so read-modify-write of container files is atomic across every driver
// instance sharing the state dir, in this process or another. The kernel
// drops the flock when its holder dies, even by SIGKILL.
func (d *Driver) withLock(fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	fd := int(d.lock.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("lock state dir: %w", err)
		}
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	return fn()
}

// load reads one container file; a missing file is (nil, nil).
func (d *Driver) load(id string) (*record, error) {
	if !idRE.MatchString(id) {
		return nil, nil
	}
	data, err := os.ReadFile(d.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("container file %s: %w", id, err)
	}
	return &r, nil
}

// deleteFiles removes a container's file and log.
func (d *Driver) deleteFiles(id string) error {
	if err := os.Remove(d.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := logrotate.Remove(d.logPath(id)); err != nil {
		d.log.Warn("remove engine log", "id", id, "error", err)
	}
	return nil
}
