package testenv

import (
	"net/http"
	"strings"
	"testing"
)

// TestRegistry pushes the engine image to a test registry and checks the
// registry demands the credentials: anonymous reads are 401, the test
// user's read finds the manifest.
func TestRegistry(t *testing.T) {
	r := StartRegistry(t)
	ref := r.PushEngine(t, "rtm/engine", "v1")
	if !strings.HasPrefix(ref, r.Addr+"/") {
		t.Fatalf("PushEngine = %q, want a ref on %s", ref, r.Addr)
	}
	url := "http://" + r.Addr + "/v2/rtm/engine/manifests/v1"
	get := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodHead, url, nil)
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("", ""); got != http.StatusUnauthorized {
		t.Errorf("anonymous manifest read = %d, want 401", got)
	}
	if got := get(r.User, "wrong"); got != http.StatusUnauthorized {
		t.Errorf("wrong-password manifest read = %d, want 401", got)
	}
	if got := get(r.User, r.Password); got != http.StatusOK {
		t.Errorf("manifest read with credentials = %d, want 200", got)
	}
	r.Stop()
	if _, err := http.Get("http://" + r.Addr + "/v2/"); err == nil {
		t.Error("registry still answers after Stop")
	}
	r.Start(t)
	if got := get(r.User, r.Password); got != http.StatusOK {
		t.Errorf("manifest read after restart = %d, want 200 (storage kept)", got)
	}
}
