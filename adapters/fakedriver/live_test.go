package fakedriver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/internal/testengine"
	"github.com/galaxy-game/rtmanager/ports"
)

func TestStartConflict(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(labels map[string]string)
		exited bool
		want   error
	}{
		{"OtherScope", func(l map[string]string) { l[ports.LabelScope] = "staging" }, false, ports.ErrConflict},
		{"OtherScopeExited", func(l map[string]string) { l[ports.LabelScope] = "staging" }, true, ports.ErrConflict},
		{"OtherGame", func(l map[string]string) { l[ports.LabelGameID] = "other" }, false, ports.ErrConflict},
		{"OtherGeneration", func(l map[string]string) { l[ports.LabelGeneration] = "2" }, true, ports.ErrConflict},
		{"OtherImage", func(l map[string]string) { l[ports.LabelImageRef] = "engine:2" }, false, ports.ErrConflict},
		{"DefaultScopeSpelledOut", func(l map[string]string) { l[ports.LabelScope] = ports.DefaultScope }, false, nil},
		{"OtherLabelsDoNotMatter", func(l map[string]string) { l["team"] = "blue" }, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(fakedriver.Behavior{})
			first := spec("rtm-a-1")
			first.Labels[ports.LabelGeneration], first.Labels[ports.LabelImageRef] = "1", image
			c, err := d.Start(t.Context(), first)
			if err != nil {
				t.Fatal(err)
			}
			if tc.exited {
				if err := d.Exit(c.ID, 0); err != nil {
					t.Fatal(err)
				}
			}
			before := mustInspect(t, d, c.ID)
			second := spec("rtm-a-1")
			second.Labels[ports.LabelGeneration], second.Labels[ports.LabelImageRef] = "1", image
			tc.mutate(second.Labels)
			got, err := d.Start(t.Context(), second)
			if !errors.Is(err, tc.want) || (tc.want == nil && got.ID != c.ID) {
				t.Fatalf("second Start = %s, %v; want the first container %s and error %v", got.ID, err, c.ID, tc.want)
			}
			if after := mustInspect(t, d, c.ID); after.State != before.State || len(d.Containers()) != 1 {
				t.Errorf("Start touched the existing container: %s became %s, %d containers", before.State, after.State, len(d.Containers()))
			}
		})
	}
}

func TestBadEngineVariablesExit(t *testing.T) {
	d := newDriver(fakedriver.Behavior{})
	s := spec("rtm-a-1")
	s.Env["ENGINE_EXIT_AFTER"] = "soon"
	c, err := d.Start(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustInspect(t, d, c.ID); got.State != ports.StateExited || got.ExitCode != testengine.ExitBadConfig {
		t.Errorf("engine with a bad variable: state %s code %d, want exited %d", got.State, got.ExitCode, testengine.ExitBadConfig)
	}
}

// get returns the status and body of GET http://endpoint/path, or the
// error of the request.
func get(t *testing.T, endpoint, path string) (int, string, error) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + endpoint + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestLiveEngineServes(t *testing.T) {
	d := fakedriver.NewLive()
	d.AddImage(image, fakedriver.Behavior{})
	s := spec("rtm-a-1")
	s.Env["PORT"] = "1" // the driver sets PORT itself
	c, err := d.Start(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := get(t, c.Endpoint, "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("GET /healthz = %d %q %v, want 200", code, body, err)
	}
	_, body, err := get(t, c.Endpoint, "/env")
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); err != nil || env["PORT"] != "8080" || env["GAME_ID"] != "rtm-a-1" {
		t.Errorf("GET /env = %s (%v), want PORT=8080 and GAME_ID=rtm-a-1", body, err)
	}
	if err := d.SetReady(c.ID, false); err != nil {
		t.Fatal(err)
	}
	if code, _, err := get(t, c.Endpoint, "/healthz"); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz of an unready engine = %d %v, want 503", code, err)
	}
	if err := d.Vanish(c.ID); err != nil {
		t.Fatal(err)
	}
	if code, _, err := get(t, c.Endpoint, "/healthz"); err == nil {
		t.Errorf("GET /healthz of a vanished engine answered %d, want a refused connection", code)
	}
}

func TestLiveStopWaits(t *testing.T) {
	const delay = 300 * time.Millisecond
	d := fakedriver.NewLive()
	d.AddImage(image, fakedriver.Behavior{StopDelay: delay})
	c := mustStart(t, d, "rtm-a-1")
	begin := time.Now()
	if err := d.Stop(t.Context(), c.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(begin); el < delay {
		t.Errorf("Stop of an engine taking %s to exit returned after %s", delay, el)
	}
	if got := mustInspect(t, d, c.ID); got.State != ports.StateExited || got.ExitCode != 0 {
		t.Errorf("after Stop: state %s code %d, want exited 0", got.State, got.ExitCode)
	}
	if code, _, err := get(t, c.Endpoint, "/healthz"); err == nil {
		t.Errorf("GET /healthz of a stopped engine answered %d, want a refused connection", code)
	}

	// A Stop whose ctx ends first returns its error and leaves the
	// engine running.
	c = mustStart(t, d, "rtm-b-1")
	ctx, cancel := context.WithTimeout(t.Context(), delay/3)
	defer cancel()
	if err := d.Stop(ctx, c.ID, 10*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with a short ctx = %v, want DeadlineExceeded", err)
	}
	if got := mustInspect(t, d, c.ID); got.State != ports.StateRunning {
		t.Errorf("after an abandoned Stop: state %s, want running", got.State)
	}
	// Remove during a slow Stop ends the Stop at once.
	done := make(chan error, 1)
	go func() { done <- d.Stop(context.Background(), c.ID, 10*time.Second) }()
	if err := d.Remove(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("Stop racing a Remove = %v, want nil or ErrNotFound", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop still waits after the container was removed")
	}
}
