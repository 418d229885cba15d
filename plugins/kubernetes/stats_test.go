package kubernetes_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/ports"
)

// TestStatsFigures checks the figures Stats maps from the kubelet summary
// of a real cluster: the memory limit comes from the pod spec, memory is in
// use, and an engine kept busy shows a CPU figure in percent of one CPU
// (a few percent, not a fraction of one: usageNanoCores / 10^7). A stopped
// pod is ErrNotFound.
func TestStatsFigures(t *testing.T) {
	c := useCluster(t)
	ns := c.namespace(t)
	d := c.driver(t, ns)
	c.waitImage(t, d)
	ctx := context.Background()
	got, err := d.Start(ctx, ports.ContainerSpec{Name: "rtm-stats-1", Image: c.image, Port: 8080,
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "stats"},
		Limits: ports.Limits{MemoryBytes: 64 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(ctx, got.ID) })

	// Keep the engine busy until the kubelet's rate shows it.
	busy, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for busy.Err() == nil {
			req, _ := http.NewRequestWithContext(busy, http.MethodGet, "http://"+got.Endpoint+"/spam", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	var st ports.Stats
	waitFor(t, 90*time.Second, "a CPU figure above 1% of a busy engine", func() bool {
		st = waitStats(t, d, got.ID)
		return st.CPUPercent != nil && *st.CPUPercent > 1
	})
	stop()
	t.Logf("busy engine: cpu %.2f%% mem %d limit %d pids %v rx %v tx %v", *st.CPUPercent, *st.MemoryBytes,
		deref(st.MemoryLimitBytes), deref(st.Pids), deref(st.NetRxBytes), deref(st.NetTxBytes))
	if all := float64(100 * runtime.NumCPU()); *st.CPUPercent > all {
		t.Errorf("CPUPercent = %.2f, more than all %d CPUs", *st.CPUPercent, runtime.NumCPU())
	}
	if st.MemoryLimitBytes == nil || *st.MemoryLimitBytes != 64<<20 {
		t.Errorf("MemoryLimitBytes = %v, want %d from the pod spec", deref(st.MemoryLimitBytes), 64<<20)
	}
	if *st.MemoryBytes <= 0 || *st.MemoryBytes > 64<<20 {
		t.Errorf("MemoryBytes = %d, want in (0, limit]", *st.MemoryBytes)
	}
	for _, p := range []*int64{st.Pids, st.NetRxBytes, st.NetTxBytes} {
		if p != nil && *p < 0 {
			t.Errorf("a negative figure: %+v", st)
		}
	}
	if err := d.Stop(ctx, got.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stats(ctx, got.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Stats of a stopped pod = %v, want ErrNotFound", err)
	}
}
