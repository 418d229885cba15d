package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

const pullPath = "/api/v1/internal/images/pull"

// pullStore gives the fake driver an image store whose pulls end with err
// (success when nil).
type pullStore struct {
	*fakedriver.Driver
	err error
}

func (p pullStore) LocalImage(_ context.Context, ref string) (ports.Image, error) {
	return ports.Image{}, fmt.Errorf("%s: %w", ref, ports.ErrNotFound)
}

func (p pullStore) PullImage(_ context.Context, ref string) (ports.Image, error) {
	if p.err != nil {
		return ports.Image{}, fmt.Errorf("pull %s: %w", ref, p.err)
	}
	return ports.Image{Ref: ref, Digest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 4096}, nil
}

func (p pullStore) Images(context.Context) ([]ports.Image, error) { return nil, nil }
func (p pullStore) RemoveImage(context.Context, string) error     { return nil }

func withStore(err error) func(*lifecycle.Deps) {
	return func(d *lifecycle.Deps) { d.Driver = pullStore{Driver: d.Driver.(*fakedriver.Driver), err: err} }
}

// TestPullImage: POST /images/pull answers digest and size, codes a failed
// pull as image_unavailable naming why, applies the allow-list, validates
// its body, and answers unsupported on a driver without an image store;
// every answer matches docs/openapi.yaml.
func TestPullImage(t *testing.T) {
	ok := newEnv(t, options{deps: withStore(nil)})
	res := ok.call(t, http.MethodPost, pullPath, map[string]any{"image_ref": imageOK})
	got := res.json(t)
	if res.status != http.StatusOK || got["image_ref"] != imageOK || !strings.HasPrefix(fmt.Sprint(got["digest"]), "sha256:") ||
		got["size_bytes"] != float64(4096) {
		t.Errorf("pull = %d %s", res.status, res.body)
	}
	for _, c := range []struct {
		name   string
		opts   options
		body   any
		status int
		code   string
		msg    string
	}{
		{"unauthorized", options{deps: withStore(ports.ErrImageUnauthorized)}, map[string]any{"image_ref": imageOK}, 422, "image_unavailable", "unauthorized"},
		{"not found", options{deps: withStore(ports.ErrImageNotFound)}, map[string]any{"image_ref": imageOK}, 422, "image_unavailable", "not found"},
		{"forbidden", options{deps: withStore(nil), allow: core.MustParseImageAllow("games/*")}, map[string]any{"image_ref": "evil/miner:1"}, 403, "forbidden", ""},
		{"missing image_ref", options{deps: withStore(nil)}, map[string]any{}, 400, "invalid_request", "image_ref"},
		{"unknown field", options{deps: withStore(nil)}, map[string]any{"image_ref": imageOK, "tag": "x"}, 400, "invalid_request", ""},
		{"bad ref", options{deps: withStore(nil)}, map[string]any{"image_ref": "a/../b"}, 400, "invalid_request", ""},
		{"no image store", options{}, map[string]any{"image_ref": imageOK}, 501, "unsupported", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.opts)
			res := e.call(t, http.MethodPost, pullPath, c.body)
			if res.status != c.status || res.code(t) != c.code || !strings.Contains(string(res.body), c.msg) {
				t.Errorf("pull = %d %s, want %d %s naming %q", res.status, res.body, c.status, c.code, c.msg)
			}
		})
	}
}
