package pluginhost_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/pluginhost"
	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
	"github.com/galaxy-game/rtmanager/ports"
)

// hostileHost starts the hostile test plugin in mode and returns the host
// and the plugin's request log.
func hostileHost(t *testing.T, mode string) (*pluginhost.Host, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "frames.log")
	h := newHost(t, pluginhost.Config{
		Path: buildPlugin(t, "adapters/pluginhost/testdata/hostileplugin"), StateDir: t.TempDir(),
		Env: []string{"HOSTILE_MODE=" + mode, "HOSTILE_LOG=" + log},
	})
	if got := h.Protocol(); got != driverplugin.ProtocolVersion {
		t.Fatalf("negotiated protocol %d, want %d", got, driverplugin.ProtocolVersion)
	}
	return h, log
}

// TestFramesProtocol: the shipped plugin speaks protocol 3 (frames), a
// protocol 2 plugin (testdata/oldplugin 2) keeps working over gRPC, both through the whole
// lifecycle.
func TestFramesProtocol(t *testing.T) {
	for _, tc := range []struct {
		plugin string
		args   []string
		want   int
	}{
		{processPlugin(t), nil, driverplugin.ProtocolVersion},
		{buildPlugin(t, "adapters/pluginhost/testdata/oldplugin"), []string{"2"}, driverplugin.ProtocolV2},
	} {
		h := newHost(t, pluginhost.Config{Path: tc.plugin, Args: tc.args, StateDir: t.TempDir()})
		if got := h.Protocol(); got != tc.want {
			t.Fatalf("%s: negotiated protocol %d, want %d", tc.plugin, got, tc.want)
		}
		name := fmt.Sprintf("frames-v%d", tc.want)
		c := startEngine(t, h, name)
		got, err := h.Inspect(ctxT(t), c.ID)
		if err != nil || got.State != ports.StateRunning || got.Endpoint != c.Endpoint {
			t.Fatalf("v%d Inspect = %+v, %v", tc.want, got, err)
		}
		if _, err := h.Inspect(ctxT(t), "no-such-container"); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("v%d Inspect of a missing container = %v, want ErrNotFound", tc.want, err)
		}
		caps, err := h.Capabilities(ctxT(t))
		if err != nil || caps.Name != "process" || !caps.Stats {
			t.Errorf("v%d Capabilities = %+v, %v", tc.want, caps, err)
		}
		if _, err := ports.ReadStats(ctxT(t), h, c.ID); err != nil {
			t.Errorf("v%d Stats: %v", tc.want, err)
		}
		if err := h.Stop(ctxT(t), c.ID, 10*time.Second); err != nil {
			t.Errorf("v%d Stop: %v", tc.want, err)
		}
		if err := h.Remove(ctxT(t), c.ID); err != nil {
			t.Errorf("v%d Remove: %v", tc.want, err)
		}
	}
}

// TestFramesOversized: a plugin announcing a ~4 GiB frame fails the call
// with ErrUnavailable at once, without allocating the frame, and the host
// replaces it.
func TestFramesOversized(t *testing.T) {
	h, _ := hostileHost(t, "oversized")
	first := h.PluginPID()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	begin := time.Now()
	_, err := h.Inspect(ctxT(t), "any")
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "frame length") {
		t.Fatalf("Inspect through an oversized frame = %v, want ErrUnavailable naming the frame length", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("Inspect took %s", d)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("the host allocated %d bytes for the call", grew)
	}
	t.Logf("error: %v", err)
	waitFor(t, 30*time.Second, "the broken plugin to be replaced", func() bool {
		pid := h.PluginPID()
		return pid != 0 && pid != first
	})
}

// TestFramesGarbage: replies that do not decode and frames of an unknown
// kind are ErrUnavailable errors, never a panic or a hang.
func TestFramesGarbage(t *testing.T) {
	for mode, want := range map[string]string{"garbage": "does not decode", "badkind": "frame kind 9"} {
		h, _ := hostileHost(t, mode)
		for i := range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := h.Inspect(ctx, "any")
			cancel()
			if i == 0 && (!errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), want)) {
				t.Fatalf("%s: Inspect = %v, want ErrUnavailable containing %q", mode, err, want)
			}
			if !errors.Is(err, ports.ErrUnavailable) {
				t.Fatalf("%s: call %d = %v, want ErrUnavailable", mode, i, err)
			}
			t.Logf("%s: call %d: %v", mode, i, err)
		}
	}
}

// TestFramesDeadlineAndCancel: against a plugin that never answers, a
// call returns at its deadline or cancellation, and the plugin receives
// the deadline with the request and a cancel frame for each call.
func TestFramesDeadlineAndCancel(t *testing.T) {
	h, log := hostileHost(t, "silent")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := h.Inspect(ctx, "any")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Inspect past its deadline = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Inspect returned %s after a 300ms deadline", d)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	if err := h.Stop(ctx2, "any", time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Stop = %v, want Canceled", err)
	}

	var lines []string
	waitFor(t, 10*time.Second, "two requests and two cancel frames at the plugin", func() bool {
		data, _ := os.ReadFile(log)
		lines = strings.Fields(strings.ReplaceAll(string(data), "\n", " | "))
		return strings.Count(string(data), "cancel ") == 2
	})
	data, _ := os.ReadFile(log)
	var id1, id2 uint64
	var t1, t2 int64
	if _, err := fmt.Sscanf(string(data), "request %d %d\n", &id1, &t1); err != nil {
		t.Fatalf("plugin log %q: %v", data, err)
	}
	if t1 <= 0 || t1 > int64(300*time.Millisecond) {
		t.Errorf("plugin got timeout %s with the first request, want (0, 300ms]", time.Duration(t1))
	}
	rest := string(data)[strings.Index(string(data), "\n")+1:]
	for _, l := range strings.Split(strings.TrimSpace(rest), "\n") {
		if strings.HasPrefix(l, "request ") {
			fmt.Sscanf(l, "request %d %d", &id2, &t2)
		}
	}
	if t2 != 0 {
		t.Errorf("plugin got timeout %d with a request without deadline, want 0", t2)
	}
	for _, id := range []uint64{id1, id2} {
		if !strings.Contains(string(data), fmt.Sprintf("cancel %d\n", id)) {
			t.Errorf("no cancel frame for call %d; plugin log: %v", id, lines)
		}
	}
}

// TestFramesMultiplexed: a call that takes seconds (Stop of an engine that
// ignores SIGTERM) does not hold up the calls issued meanwhile on the same
// frame channel, and concurrent calls each get their own reply.
func TestFramesMultiplexed(t *testing.T) {
	h := newHost(t, pluginhost.Config{Path: processPlugin(t), StateDir: t.TempDir()})
	if got := h.Protocol(); got != driverplugin.ProtocolVersion {
		t.Fatalf("negotiated protocol %d, want %d", got, driverplugin.ProtocolVersion)
	}
	stubborn, err := h.Start(ctxT(t), ports.ContainerSpec{
		Name: "frames-stubborn", Image: engineImageRef(t), HostIP: "127.0.0.1",
		Env:    map[string]string{"ENGINE_IGNORE_SIGTERM": "1"},
		Labels: map[string]string{ports.LabelManaged: "true", ports.LabelGameID: "frames-stubborn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Remove(context.Background(), stubborn.ID) })
	other := startEngine(t, h, "frames-other")
	waitFor(t, 30*time.Second, "the stubborn engine healthy", func() bool { return healthy(stubborn.Endpoint) })

	const grace = 3 * time.Second
	stopped := make(chan error, 1)
	begin := time.Now()
	go func() { stopped <- h.Stop(ctxT(t), stubborn.ID, grace) }()
	waitFor(t, grace/2, "the engine to log the SIGTERM it ignores (the Stop waits)", func() bool {
		var out strings.Builder
		err := ports.ReadLogs(ctxT(t), h, stubborn.ID, ports.LogOptions{Tail: ports.TailAll}, &out)
		return err == nil && strings.Contains(out.String(), "ignoring")
	})

	errs := make(chan error, 40)
	for i := range cap(errs) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), grace/2)
			defer cancel()
			id := map[bool]string{true: other.ID, false: stubborn.ID}[i%2 == 0]
			c, err := h.Inspect(ctx, id)
			if err == nil && c.ID != id {
				err = fmt.Errorf("Inspect %s answered for %s", id, c.ID)
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("Inspect while a Stop waits: %v", err)
		}
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) after %s, before its %s grace ended", err, time.Since(begin), grace)
	default: // the Inspects all came back while the Stop still waits
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(begin); d < grace-100*time.Millisecond {
		t.Errorf("Stop of an engine ignoring SIGTERM returned after %s, before its %s grace", d, grace)
	}
}
