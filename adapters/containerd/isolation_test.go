package containerd

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestScopedNameUserReadOnlyRoot starts an engine under the longest name
// core builds (a 20-char scope, a 64-char game id, the largest generation:
// 76 bytes), as uid 65534:65533 on a read-only root filesystem, and checks
// the name is kept, the engine sees that uid/gid and may write only under
// the tmpfs /tmp.
func TestScopedNameUserReadOnlyRoot(t *testing.T) {
	image := engineImage(t)
	d := newDriver(t)
	ctx := ctxFor(t, 60*time.Second)
	spec := testSpec(image, nil)
	scope, game := strings.Repeat("s", core.MaxScopeLen), "ctrd-"+strings.Repeat("x", core.MaxGameIDLen-5)
	spec.Name = core.ContainerName(scope, game, 1<<63-1)
	spec.Labels[ports.LabelScope] = scope
	spec.User, spec.ReadOnlyRootFS = "65534:65533", true
	c, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start(%s, %d bytes): %v", spec.Name, len(spec.Name), err)
	}
	t.Cleanup(func() { d.Remove(context.Background(), c.ID) })
	if c.Name != spec.Name || len(c.Name) != core.MaxContainerNameLen {
		t.Errorf("container name %q (%d bytes), want %q of %d", c.Name, len(c.Name), spec.Name, core.MaxContainerNameLen)
	}
	waitHealthy(t, c.Endpoint)
	testenv.CheckEngineUserReadOnly(t, c.Endpoint, 65534, 65533)
}

// TestEngineLogsBounded: an engine writing 48 MB of output leaves at most
// 10 MB × 3 of task log on disk once the driver's rotation has run.
func TestEngineLogsBounded(t *testing.T) {
	image := engineImage(t)
	d := newDriver(t)
	const spam = 48 << 20
	c, err := d.Start(ctxFor(t, 60*time.Second), testSpec(image, map[string]string{"ENGINE_SPAM_BYTES": fmt.Sprint(spam)}))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { d.Remove(context.Background(), c.ID) })
	waitHealthy(t, c.Endpoint)
	written := testenv.AwaitSpamDone(t, c.Endpoint, 2*time.Minute)
	logPath := c.Labels[LabelLogPath]
	used, files := testenv.AwaitDiskUsage(t, logPath+"*", 40<<20, 10*time.Second)
	t.Logf("engine wrote %d MiB; %d files on disk take %.1f MiB: %v", written>>20, len(files), float64(used)/(1<<20), files)
	if used > 40<<20 {
		t.Errorf("task logs take %.1f MiB on disk, want <= 40 MiB", float64(used)/(1<<20))
	}
	// The shim appends (O_APPEND): after a truncation the live file
	// restarts at zero rather than growing a sparse hole.
	if fi, err := os.Stat(logPath); err != nil || fi.Size() > 20<<20 {
		t.Errorf("live log %s: size %v err %v, want it truncated", logPath, sizeOf(fi), err)
	}
	// The engine keeps logging into the truncated file.
	if code, _ := testenv.EngineCall(t, http.MethodGet, c.Endpoint, "/healthz"); code != http.StatusOK {
		t.Errorf("engine unhealthy after rotation: %d", code)
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}
