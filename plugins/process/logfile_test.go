package process_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestEngineLogsBounded: an engine writing 48 MB of output leaves at most
// 10 MB × 3 of log on disk once the driver's rotation has run, and keeps
// running and logging.
func TestEngineLogsBounded(t *testing.T) {
	dir, err := os.MkdirTemp("", "rtm-process-logs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := newDriver(t, process.Config{StateDir: dir})
	const spam = 48 << 20
	c, err := d.Start(ctxT(t), ports.ContainerSpec{
		Name: "rtm-logs-1", Image: "file://" + testenv.EngineBinary(t), Port: 8080,
		Env: map[string]string{"ENGINE_SPAM_BYTES": fmt.Sprint(spam)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(context.Background(), c.ID) })
	written := waitSpam(t, c.Endpoint)
	used, files := testenv.AwaitDiskUsage(t, filepath.Join(dir, c.ID+".log*"), 40<<20, 10*time.Second)
	t.Logf("engine wrote %d MiB; %d files on disk take %.1f MiB", written>>20, len(files), float64(used)/(1<<20))
	if used > 40<<20 {
		t.Errorf("engine logs take %.1f MiB on disk, want <= 40 MiB", float64(used)/(1<<20))
	}
	if err := d.Remove(ctxT(t), c.ID); err != nil {
		t.Fatal(err)
	}
	if _, left := testenv.DiskUsage(t, filepath.Join(dir, c.ID+".log*")); len(left) != 0 {
		t.Errorf("Remove left logs behind: %v", left)
	}
}

// waitSpam waits until the engine answers and has written its spam.
func waitSpam(t *testing.T, endpoint string) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get("http://" + endpoint + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return testenv.AwaitSpamDone(t, endpoint, 2*time.Minute)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine at %s never answered", endpoint)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}
