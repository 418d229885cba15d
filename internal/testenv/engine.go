package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// EngineImageRef is the moving tag of the newest test engine image
// EngineImage built. Tests use the ref EngineImage returns, which names
// the image of their own engine source (engineImageRef): worktrees or
// branches with different engines share one Docker daemon.
const EngineImageRef = "rtmanager-test-engine:latest"

// engineImageRef is the tag of the image of the engine binary with hash
// binHash.
func engineImageRef(binHash string) string { return "rtmanager-test-engine:" + binHash[:16] }

// EngineHashLabel is the image label holding the SHA-256 of the engine
// binary inside, so a stale image is rebuilt and a current one reused.
const EngineHashLabel = "rtmanager.test.engine.sha256"

// The engine artefacts are built once per test process and shared between
// processes through files under os.TempDir keyed by content hash; a file lock
// serialises concurrent builders so parallel test packages reuse one build.
var (
	engineBinOnce sync.Once
	engineBin     string
	engineBinHash string
	engineBinErr  error

	engineImageOnce sync.Once
	engineImageErr  error
	engineImageGone bool // Docker itself was unreachable

	engineTarOnce sync.Once
	engineTar     string
	engineTarErr  error
)

// EngineBinary builds the test engine (e2e/engine, CGO_ENABLED=0) once per
// test process and returns the path of the static binary.
func EngineBinary(tb testing.TB) string {
	tb.Helper()
	engineBinOnce.Do(func() {
		engineBin, engineBinHash, engineBinErr = buildEngineBinary()
	})
	if engineBinErr != nil {
		tb.Fatalf("build test engine: %v", engineBinErr)
	}
	return engineBin
}

// EngineImage builds (or reuses) the Docker image EngineImageRef: FROM
// scratch with only the engine binary as its entrypoint. It is rebuilt only
// when missing or when its EngineHashLabel differs from the current binary.
// A missing Docker engine skips tb locally and fails it in CI.
func EngineImage(tb testing.TB) string {
	tb.Helper()
	host := DockerHost(tb)
	bin := EngineBinary(tb)
	engineImageOnce.Do(func() {
		engineImageGone, engineImageErr = ensureEngineImage(host, bin, engineBinHash)
	})
	if engineImageGone {
		Missing(tb, "docker at %s: %v", host, engineImageErr)
	}
	if engineImageErr != nil {
		tb.Fatalf("build test engine image: %v", engineImageErr)
	}
	return engineImageRef(engineBinHash)
}

// EngineTarball returns the path of a `docker save` tarball of EngineImage,
// for runtimes that import images (containerd). A missing Docker engine
// skips tb locally and fails it in CI.
func EngineTarball(tb testing.TB) string {
	tb.Helper()
	ref := EngineImage(tb)
	host := DockerHost(tb)
	engineTarOnce.Do(func() {
		engineTar, engineTarErr = saveEngineImage(host, ref, engineBinHash)
	})
	if engineTarErr != nil {
		tb.Fatalf("save test engine image: %v", engineTarErr)
	}
	return engineTar
}

func buildEngineBinary() (path, binHash string, err error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	// The rtmanager module's source: the main module here, or the
	// dependency (a replace directory or the module cache) of an
	// integrator's module that runs the suite through plugins/sdk/sdktest.
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/galaxy-game/rtmanager").Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m github.com/galaxy-game/rtmanager (run inside a module that requires it): %w", err)
	}
	root := strings.TrimSpace(string(out))
	if root == "" {
		return "", "", errors.New("the rtmanager module's source is not available (go mod download github.com/galaxy-game/rtmanager)")
	}
	src := filepath.Join(root, "e2e", "engine")
	srcHash, err := hashTree(src)
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(os.TempDir(), "rtm-engine-"+srcHash[:16])
	path = filepath.Join(dir, "engine")
	err = withFileLock(dir+".lock", func() error {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tmp := fmt.Sprintf("%s.tmp-%s", path, RandomSuffix(4))
		cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./e2e/engine")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("go build ./e2e/engine: %w\n%s", err, out)
		}
		return os.Rename(tmp, path)
	})
	if err != nil {
		return "", "", err
	}
	binHash, err = hashFile(path)
	return path, binHash, err
}

// ensureEngineImage builds EngineImageRef from bin unless an image with the
// same binary hash exists. unreachable reports that Docker itself failed.
func ensureEngineImage(host, bin, binHash string) (unreachable bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		return true, err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return true, err
	}
	current := func() (id string, ok bool) {
		img, err := cli.ImageInspect(ctx, engineImageRef(binHash))
		if err != nil || img.Config == nil {
			return "", false
		}
		return img.ID, img.Config.Labels[EngineHashLabel] == binHash
	}
	if _, ok := current(); ok {
		return false, nil
	}
	return false, withFileLock(filepath.Join(os.TempDir(), "rtm-engine-image.lock"), func() error {
		old, ok := current()
		if ok {
			return nil
		}
		buildCtx, err := engineContext(bin)
		if err != nil {
			return err
		}
		res, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
			Tags:        []string{engineImageRef(binHash), EngineImageRef},
			Labels:      map[string]string{EngineHashLabel: binHash},
			Remove:      true,
			ForceRemove: true,
			Version:     build.BuilderV1,
		})
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if err := drainBuild(res.Body); err != nil {
			return err
		}
		if _, ok := current(); !ok {
			return errors.New("built image lacks the binary hash label")
		}
		if old != "" {
			// Best effort: the stale image may still back a running container.
			_, _ = cli.ImageRemove(ctx, old, client.ImageRemoveOptions{PruneChildren: true})
		}
		return nil
	})
}

func saveEngineImage(host, ref, binHash string) (string, error) {
	// The tarball holds the image under its hash tag (engineImageRef).
	path := filepath.Join(os.TempDir(), "rtm-engine-image-tagged-"+binHash[:16]+".tar")
	err := withFileLock(path+".lock", func() error {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cli, err := client.New(client.WithHost(host))
		if err != nil {
			return err
		}
		defer cli.Close()
		rc, err := cli.ImageSave(ctx, []string{ref})
		if err != nil {
			return err
		}
		defer rc.Close()
		tmp := fmt.Sprintf("%s.tmp-%s", path, RandomSuffix(4))
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, rc); err != nil {
			f.Close()
			os.Remove(tmp)
			return err
		}
		if err := f.Close(); err != nil {
			os.Remove(tmp)
			return err
		}
		return os.Rename(tmp, path)
	})
	return path, err
}

// engineContext returns a build context holding a FROM scratch Dockerfile
// and the engine binary.
func engineContext(bin string) (io.Reader, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	dockerfile := []byte("FROM scratch\nCOPY engine /engine\nEXPOSE 8080\nENTRYPOINT [\"/engine\"]\n")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"engine", 0o755, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// drainBuild reads a build's JSON message stream and returns its error.
func drainBuild(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != nil {
			return fmt.Errorf("docker build: %s", m.Error.Message)
		}
	}
}

// withFileLock runs fn holding an exclusive flock on path, so concurrent
// test processes build each artefact once.
func withFileLock(path string, fn func() error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// hashTree hashes the names and contents of the files under dir, plus the
// Go version that builds them.
func hashTree(dir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", runtime.Version(), runtime.GOARCH)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %d\n", rel, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
