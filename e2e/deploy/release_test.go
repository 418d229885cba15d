//go:build e2e

package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRelease builds a release with scripts/release.sh (rtmanager and the
// process and Kubernetes plugins) for both shipped platforms and checks what a deployer checks: the native rtmanager
// prints the stamped version and revision, every binary is static and
// stamped for its platform, SHA256SUMS verifies with sha256sum -c, and
// SBOM.txt is the `go version -m` report of every binary.
func TestRelease(t *testing.T) {
	out := t.TempDir()
	version, revision := "v1.2.3-e2e.1", "0123456789abcdef0123456789abcdef01234567"
	dir := lastLine(script(t, 30*time.Minute, []string{"OUT=" + out, "VERSION=" + version, "REVISION=" + revision},
		"scripts/release.sh"))
	if dir != out {
		t.Fatalf("release.sh last line = %q, want the output dir %q", dir, out)
	}

	var bins []string
	for _, arch := range []string{"amd64", "arm64"} {
		for _, cmd := range []string{"rtmanager", "rtmanager-plugin-process", "rtmanager-plugin-kubernetes"} {
			bins = append(bins, cmd+"_"+version+"_linux_"+arch)
		}
	}
	for _, b := range bins {
		info := must(t, "go", "version", "-m", filepath.Join(out, b))
		arch := b[strings.LastIndexByte(b, '_')+1:]
		for _, want := range []string{"GOARCH=" + arch, "GOOS=linux", "CGO_ENABLED=0", "-trimpath=true"} {
			if !strings.Contains(info, "\t"+want+"\n") {
				t.Errorf("%s: go version -m lacks %q:\n%s", b, want, info)
			}
		}
		// -trimpath keeps -ldflags out of the build info: look for the
		// stamp in the binary itself (the arm64 one cannot run here).
		if strings.HasPrefix(b, "rtmanager_") {
			data, err := os.ReadFile(filepath.Join(out, b))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(version)) || !bytes.Contains(data, []byte(revision)) {
				t.Errorf("%s does not contain the stamped version and revision", b)
			}
		}
	}

	// The stamped version is what `version` prints.
	native := filepath.Join(out, "rtmanager_"+version+"_linux_"+runtime.GOARCH)
	got := must(t, native, "version")
	want := "rtmanager " + version + " (revision " + revision + ", " + runtime.Version() + " linux/" + runtime.GOARCH + ")"
	if got != want {
		t.Errorf("%s version = %q, want %q", filepath.Base(native), got, want)
	}

	// SHA256SUMS: sha256sum -c accepts it, and it covers every file.
	cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, b)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(bins, "SBOM.txt") {
		data, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if !strings.Contains(string(sums), hex.EncodeToString(sum[:])+"  "+f+"\n") {
			t.Errorf("SHA256SUMS has no line for %s:\n%s", f, sums)
		}
	}

	// SBOM.txt: one go version -m report per binary, with the main module
	// and the modules linked.
	sbom, err := os.ReadFile(filepath.Join(out, "SBOM.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(sbom), "# rtmanager "+version+" revision "+revision+":") {
		t.Errorf("SBOM.txt does not start with the release's version and revision")
	}
	for _, b := range bins {
		if !strings.Contains(string(sbom), b+": "+runtime.Version()+"\n") {
			t.Errorf("SBOM.txt has no report for %s", b)
		}
	}
	for _, want := range []string{"\tmod\tgithub.com/galaxy-game/rtmanager\t", "\tdep\tgithub.com/hashicorp/go-plugin\t"} {
		if !strings.Contains(string(sbom), want) {
			t.Errorf("SBOM.txt lacks %q", want)
		}
	}
}
