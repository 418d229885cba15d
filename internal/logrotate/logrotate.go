// Package logrotate bounds the engine log files the containerd driver and
// the process driver plugin keep (SPEC §11: 10 MB × 3, as Docker's
// json-file max-size/max-file). Engines (or containerd's shim) write their
// log file themselves, opened with O_APPEND, and keep writing while
// rtmanager restarts; so rotation is "copy and truncate", done by a poller
// beside the writer rather than by a writer in the pipe: no engine ever
// blocks or dies because rtmanager is down.
//
// Bound: once a file passes MaxBytes, the next check (every Interval)
// keeps its last MaxBytes as <file>.1 (older copies shift up to
// <file>.<Files-1>) and truncates it. At rest an engine has at most
// Files × MaxBytes on disk; between two checks its live file grows by
// whatever it writes in one Interval. Lines written during the copy itself
// are lost, as with logrotate's copytruncate.
package logrotate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Rotation settings of SPEC §11.
const (
	// MaxBytes is the size past which a log file is rotated.
	MaxBytes = 10 << 20
	// Files is how many files one log may span: the live one and
	// Files-1 rotated copies.
	Files = 3
	// Interval is how often Run checks the sizes.
	Interval = time.Second
)

// Rotate rotates path when it is larger than maxBytes and reports whether
// it did. The last maxBytes of path become path.1, path.1 … path.(files-2)
// move up by one (path.(files-1) is dropped), and path is truncated to
// zero, so a writer holding it with O_APPEND continues at its start. A
// rotation another process holds the lock of is skipped. A missing path is
// not an error.
func Rotate(path string, maxBytes int64, files int) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil // another driver instance rotates it
		}
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() <= maxBytes {
		return false, err
	}
	if files > 1 {
		if err := keepTail(f, fi.Size(), maxBytes, path+".tmp"); err != nil {
			return false, err
		}
		for i := files - 1; i > 1; i-- {
			if err := os.Rename(rotated(path, i-1), rotated(path, i)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, err
			}
		}
		if err := os.Rename(path+".tmp", rotated(path, 1)); err != nil {
			return false, err
		}
	}
	if err := f.Truncate(0); err != nil {
		return false, fmt.Errorf("truncate %s: %w", path, err)
	}
	return true, nil
}

// keepTail writes the last max bytes of f (size bytes long) to dst.
func keepTail(f *os.File, size, max int64, dst string) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, size-min(size, max), min(size, max)))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("copy %s: %w", f.Name(), err)
	}
	return nil
}

func rotated(path string, n int) string { return path + "." + strconv.Itoa(n) }

// Run rotates every file matching pattern (a filepath.Match pattern) with
// MaxBytes and Files every Interval until ctx is done. Errors go to onErr
// and do not stop it.
func Run(ctx context.Context, pattern string, onErr func(error)) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			onErr(err)
			return
		}
		for _, p := range paths {
			if _, err := Rotate(p, MaxBytes, Files); err != nil {
				onErr(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Remove deletes path and its rotated copies; missing files are not an
// error.
func Remove(path string) error {
	var errs []error
	for i := range Files {
		p := path
		if i > 0 {
			p = rotated(path, i)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
