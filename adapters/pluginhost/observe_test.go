package pluginhost_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestV1Plugin: a plugin of driver protocol version 1 keeps working with
// the version 2 host (it starts and stops engines), declares neither logs
// nor stats, and answers both with ErrUnsupported. The shipped plugin, of
// version 2, declares and serves them.
func TestV1Plugin(t *testing.T) {
	h := newHost(t, pluginhost.Config{Path: buildPlugin(t, "adapters/pluginhost/testdata/oldplugin"), Args: []string{"1"}, StateDir: t.TempDir()})
	caps, err := h.Capabilities(ctxT(t))
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	if caps.Logs || caps.Stats || caps.LogTimes {
		t.Errorf("a v1 plugin declares %+v, want no logs or stats", caps)
	}
	c := startEngine(t, h, "v1-engine")
	if err := ports.ReadLogs(ctxT(t), h, c.ID, ports.LogOptions{Tail: ports.TailAll}, io.Discard); !errors.Is(err, ports.ErrUnsupported) ||
		!strings.Contains(err.Error(), "version 1") {
		t.Errorf("Logs of a v1 plugin = %v, want ErrUnsupported naming version 1", err)
	}
	if _, err := ports.ReadStats(ctxT(t), h, c.ID); !errors.Is(err, ports.ErrUnsupported) {
		t.Errorf("Stats of a v1 plugin = %v, want ErrUnsupported", err)
	}
	if err := h.Stop(ctxT(t), c.ID, 0); err != nil {
		t.Errorf("Stop through a v1 plugin: %v", err)
	}

	h2 := newHost(t, pluginhost.Config{Path: processPlugin(t), StateDir: t.TempDir()})
	caps, err = h2.Capabilities(ctxT(t))
	if err != nil || !caps.Logs || !caps.Stats || caps.LogTimes {
		t.Errorf("the process plugin declares %+v, %v; want logs and stats without log times", caps, err)
	}
}
