package logrotate_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/galaxy-game/rtmanager/internal/logrotate"
)

// TestRotate writes through an O_APPEND handle, as engines and the shim
// do, and rotates three times: each rotation keeps the file's last maxBytes
// as .1, shifts older copies, drops the oldest and lets the writer go on at
// the start of the truncated file.
func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const max = 100
	for round, fill := range []byte("abcd") {
		if _, err := w.Write(bytes.Repeat([]byte{fill}, 150)); err != nil {
			t.Fatal(err)
		}
		rotated, err := logrotate.Rotate(path, max, 3)
		if err != nil || !rotated {
			t.Fatalf("round %d: Rotate = %v, %v; want a rotation", round, rotated, err)
		}
		if again, err := logrotate.Rotate(path, max, 3); err != nil || again {
			t.Fatalf("round %d: second Rotate = %v, %v; want none (file is empty)", round, again, err)
		}
	}
	if _, err := w.Write([]byte("e")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"e.log": "e", "e.log.1": string(bytes.Repeat([]byte("d"), max)),
		"e.log.2": string(bytes.Repeat([]byte("c"), max))}
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil || string(got) != content {
			t.Errorf("%s = %q, %v; want %q", name, got, err, content)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists (%v): at most 3 files are kept", path, err)
	}
	if err := logrotate.Remove(path); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + "*"); len(left) != 0 {
		t.Errorf("Remove left %v", left)
	}
}

func TestRotateSmallOrMissing(t *testing.T) {
	dir := t.TempDir()
	if rotated, err := logrotate.Rotate(filepath.Join(dir, "none.log"), 10, 3); err != nil || rotated {
		t.Errorf("Rotate of a missing file = %v, %v; want false, nil", rotated, err)
	}
	small := filepath.Join(dir, "small.log")
	if err := os.WriteFile(small, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rotated, err := logrotate.Rotate(small, 10, 3); err != nil || rotated {
		t.Errorf("Rotate of a file at the limit = %v, %v; want false, nil", rotated, err)
	}
}
