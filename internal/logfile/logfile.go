// Package logfile reads the engine log files the containerd driver and the
// process driver plugin keep: one raw file per container where stdout and
// stderr are appended in the order written, rotated by copy-and-truncate
// into <file>.1, <file>.2, … (a larger number is older). It serves
// ports.LogSource for those drivers: tail, and follow until the container
// exits, in constant memory per reader.
//
// The files carry no write times, so Since and Timestamps are
// ports.ErrUnsupported. A follower polls the live file's size every
// PollInterval (one stat per follower, never per line); after a rotation
// it goes on at the start of the truncated file, so lines written in the
// last interval before a rotation may be missed by a follower (they are in
// <file>.1 for later reads).
package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// PollInterval is how often a follower checks the live file for growth.
const PollInterval = 200 * time.Millisecond

// After the container exits a follower reads on until the file has not
// grown for settleQuiet, at most Settle: the runtime may report the exit
// before its copier has written the engine's last output.
const (
	Settle      = 2 * time.Second
	settleQuiet = 150 * time.Millisecond
)

// chunk is the read buffer of one reader; maxLine bounds a held partial
// line before it is written as is.
const (
	chunk   = 32 << 10
	maxLine = 64 << 10
)

// Files returns path's rotated copies oldest first, then path, keeping
// those that exist.
func Files(path string) []string {
	matches, _ := filepath.Glob(globEscape(path) + ".*")
	type rot struct {
		n    int
		path string
	}
	var rots []rot
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimPrefix(m, path+".")); err == nil && n > 0 {
			rots = append(rots, rot{n, m})
		}
	}
	slices.SortFunc(rots, func(a, b rot) int { return b.n - a.n })
	var out []string
	for _, r := range rots {
		out = append(out, r.path)
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// Read writes the log at path to w as opts select. With opts.Follow it
// then follows the live file until exited is closed (and what was written
// before is read) or ctx ends (ctx.Err()). A missing log is empty.
func Read(ctx context.Context, path string, opts ports.LogOptions, w io.Writer, exited <-chan struct{}) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.Timestamps || !opts.Since.IsZero() {
		return fmt.Errorf("%w: engine log files carry no timestamps (since, timestamps)", ports.ErrUnsupported)
	}
	files := Files(path)
	start, off, err := tailStart(files, opts.Tail)
	if err != nil {
		return err
	}
	// Open the live file before copying the history, so a rotation in
	// between cannot make the follower lose its place.
	var live *os.File
	if opts.Follow {
		live, err = os.Open(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: open %s: %v", ports.ErrUnavailable, path, err)
		}
		if live != nil {
			defer live.Close()
		}
	}
	var pos int64
	for i := start; i < len(files); i++ {
		from := int64(0)
		if i == start {
			from = off
		}
		n, err := copyFrom(files[i], from, w)
		if err != nil {
			return err
		}
		if files[i] == path {
			pos = from + n
		}
	}
	if !opts.Follow {
		return nil
	}
	return follow(ctx, path, live, pos, w, exited)
}

// copyFrom copies file from offset to w and returns how many bytes.
func copyFrom(file string, from int64, w io.Writer) (int64, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: open %s: %v", ports.ErrUnavailable, file, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(onlyWriter{w}, io.NewSectionReader(f, from, 1<<62), make([]byte, chunk))
	return n, err
}

// onlyWriter hides ReaderFrom so CopyBuffer uses the given buffer.
type onlyWriter struct{ io.Writer }

// tailStart returns the file index and offset where the last n lines of
// files begin (n < 0: the start of everything; n == 0: the end), reading
// backwards in chunks.
func tailStart(files []string, n int) (int, int64, error) {
	if n < 0 || len(files) == 0 {
		return 0, 0, nil
	}
	buf := make([]byte, chunk)
	newlines, first := 0, true
	for i := len(files) - 1; i >= 0; i-- {
		f, err := os.Open(files[i])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%w: open %s: %v", ports.ErrUnavailable, files[i], err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return 0, 0, fmt.Errorf("%w: stat %s: %v", ports.ErrUnavailable, files[i], err)
		}
		if n == 0 {
			f.Close()
			return i, fi.Size(), nil
		}
		for end := fi.Size(); end > 0; {
			size := min(int64(len(buf)), end)
			if _, err := f.ReadAt(buf[:size], end-size); err != nil && !errors.Is(err, io.EOF) {
				f.Close()
				return 0, 0, fmt.Errorf("%w: read %s: %v", ports.ErrUnavailable, files[i], err)
			}
			for j := size - 1; j >= 0; j-- {
				isFinal := first
				first = false
				if buf[j] != '\n' || isFinal { // the newline ending the last line
					continue
				}
				if newlines++; newlines == n {
					f.Close()
					return i, end - size + j + 1, nil
				}
			}
			end -= size
		}
		f.Close()
	}
	return 0, 0, nil
}

// follow writes what is appended to the live file from pos on, whole
// lines, until exited is closed or ctx ends. A file shorter than pos was
// rotated (truncated): reading goes on at its start.
func follow(ctx context.Context, path string, live *os.File, pos int64, w io.Writer, exited <-chan struct{}) error {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	buf := make([]byte, chunk)
	var partial []byte
	drain := func() error {
		if live == nil {
			f, err := os.Open(path)
			if err != nil {
				return nil // not there yet
			}
			live = f
		}
		fi, err := live.Stat()
		if err != nil {
			return fmt.Errorf("%w: stat %s: %v", ports.ErrUnavailable, path, err)
		}
		if fi.Size() < pos {
			pos = 0
		}
		for pos < fi.Size() {
			n, err := live.ReadAt(buf[:min(int64(len(buf)), fi.Size()-pos)], pos)
			pos += int64(n)
			data := buf[:n]
			if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
				if len(partial) > 0 {
					if _, err := w.Write(partial); err != nil {
						return err
					}
					partial = partial[:0]
				}
				if _, err := w.Write(data[:i+1]); err != nil {
					return err
				}
				data = data[i+1:]
			}
			partial = append(partial, data...)
			if len(partial) >= maxLine {
				if _, err := w.Write(partial); err != nil {
					return err
				}
				partial = partial[:0]
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: read %s: %v", ports.ErrUnavailable, path, err)
			}
			if n == 0 {
				break
			}
		}
		return nil
	}
	defer func() {
		if live != nil {
			live.Close()
		}
	}()
	for {
		if err := drain(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			// The runtime may report the exit before its copier has
			// written the last output: drain until the file stops growing.
			deadline, quietSince := time.Now().Add(Settle), time.Now()
			for {
				before := pos
				if err := drain(); err != nil {
					return err
				}
				if pos != before {
					quietSince = time.Now()
				}
				if time.Since(quietSince) >= settleQuiet || time.Now().After(deadline) {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(settleQuiet):
				}
			}
			if len(partial) > 0 {
				if _, err := w.Write(append(partial, '\n')); err != nil {
					return err
				}
			}
			return nil
		case <-tick.C:
		}
	}
}
