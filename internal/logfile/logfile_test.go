package logfile_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/logfile"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string, opts ports.LogOptions) string {
	t.Helper()
	var b strings.Builder
	if err := logfile.Read(context.Background(), path, opts, &b, nil); err != nil {
		t.Fatalf("Read(%+v): %v", opts, err)
	}
	return b.String()
}

// TestTailAcrossRotations: tail counts lines across the rotated copies,
// oldest first.
func TestTailAcrossRotations(t *testing.T) {
	p := t.TempDir() + "/e.log"
	write(t, p+".2", "a1\na2\n")
	write(t, p+".1", "b1\nb2\n")
	write(t, p, "c1\nc2")
	for _, tc := range []struct {
		tail int
		want string
	}{
		{ports.TailAll, "a1\na2\nb1\nb2\nc1\nc2"},
		{0, ""},
		{1, "c2"},
		{2, "c1\nc2"},
		{3, "b2\nc1\nc2"},
		{5, "a2\nb1\nb2\nc1\nc2"},
		{100, "a1\na2\nb1\nb2\nc1\nc2"},
	} {
		if got := read(t, p, ports.LogOptions{Tail: tc.tail}); got != tc.want {
			t.Errorf("tail %d = %q, want %q", tc.tail, got, tc.want)
		}
	}
	write(t, p, "")
	if got := read(t, p, ports.LogOptions{Tail: 1}); got != "b2\n" {
		t.Errorf("tail 1 with an empty live file = %q, want %q", got, "b2\n")
	}
	var b strings.Builder
	if err := logfile.Read(context.Background(), p, ports.LogOptions{Timestamps: true}, &b, nil); !errors.Is(err, ports.ErrUnsupported) {
		t.Errorf("timestamps = %v, want ErrUnsupported", err)
	}
}

func waitFor(t *testing.T, b *testenv.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b.String() == want {
			return
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	t.Fatalf("follower holds %q, want %q", b.String(), want)
}

// TestFollowRotationAndExit: a follower writes appended whole lines, goes
// on after a copy-and-truncate rotation, and returns nil with the held
// partial line once the container exits.
func TestFollowRotationAndExit(t *testing.T) {
	p := t.TempDir() + "/e.log"
	write(t, p, "old\n")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exited := make(chan struct{})
	out, done := &testenv.Buffer{}, make(chan error, 1)
	go func() {
		done <- logfile.Read(context.Background(), p, ports.LogOptions{Tail: 1, Follow: true}, out, exited)
	}()
	waitFor(t, out, "old\n")
	f.WriteString("one\ntw")
	waitFor(t, out, "old\none\n")
	f.WriteString("o\n")
	waitFor(t, out, "old\none\ntwo\n")
	// rotate: copy, then truncate; the writer goes on at the start
	write(t, p+".1", "old\none\ntwo\n")
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	f.WriteString("three\nlast")
	waitFor(t, out, "old\none\ntwo\nthree\n")
	close(exited)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follower after exit = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not return after exit")
	}
	if got := out.String(); got != "old\none\ntwo\nthree\nlast\n" {
		t.Errorf("follower wrote %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- logfile.Read(ctx, p, ports.LogOptions{Tail: 1, Follow: true}, &testenv.Buffer{}, nil) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled follower = %v, want context.Canceled", err)
	}
}
