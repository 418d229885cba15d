package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/containerd"
	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/internal/testdocker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestImagesOnRealRegistry runs rtmanager with the docker and with the
// containerd driver against a private registry (Debian's docker-registry
// with htpasswd auth on loopback) holding the test engine image, and
// checks SPEC §5 Images end to end through the REST API: 10 concurrent
// starts of new games on a missing image share one pull; a wrong password
// is image_unavailable naming unauthorized, and fixing the credential file
// while rtmanager runs takes effect; a missing tag is "not found"; a
// pre-pull returns digest and size and respects the allow-list; a stopped
// registry is "registry unreachable", a pre-pulled image still starts, and
// policy always falls back to the local copy (counted); image GC removes an
// unused image and keeps the ones in use. Figures go to the test log.
func TestImagesOnRealRegistry(t *testing.T) {
	for _, drv := range []string{"docker", "containerd"} {
		t.Run(drv, func(t *testing.T) { imageSuite(t, drv) })
	}
}

// imageEnv returns the driver part of an instance's environment and an
// image store on the same runtime for the test's own checks.
func imageEnv(t *testing.T, drv string) (map[string]string, ports.ImageStore) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch drv {
	case "docker":
		host := testenv.DockerHost(t)
		return map[string]string{"RTMANAGER_DRIVER": "docker", "RTMANAGER_DOCKER_HOST": host}, testdocker.New(t, docker.Config{Host: host})
	default:
		addr := testenv.ContainerdAddress(t)
		ns := "rtmimg-" + testenv.RandomSuffix(4)
		d, err := containerd.New(ctx, containerd.Config{Address: addr, Namespace: ns, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			d.Close()
			// The instances removed their games; what is left here is
			// the images.
			if err := testenv.DropContainerdNamespace(addr, ns); err != nil {
				t.Logf("drop namespace %s: %v", ns, err)
			}
		})
		return map[string]string{"RTMANAGER_DRIVER": "containerd", "RTMANAGER_CONTAINERD_ADDRESS": addr,
			"RTMANAGER_CONTAINERD_NAMESPACE": ns}, d
	}
}

func imageSuite(t *testing.T, drv string) {
	reg := testenv.StartRegistry(t)
	repo := "rtm/img-" + testenv.RandomSuffix(3)
	// ref and ref2 share no layer with any local image, so pulling them
	// downloads them whole; ref3 is the engine image under a new tag.
	ref := reg.PushUniqueEngine(t, repo, "v1")
	ref2 := reg.PushUniqueEngine(t, repo, "v2")
	ref3 := reg.PushEngine(t, repo, "v3")
	missing := reg.Addr + "/" + repo + ":v9"
	authPath := reg.AuthFile(t, reg.User, reg.Password)
	drvEnv, images := imageEnv(t, drv)
	if drv == "docker" {
		t.Cleanup(func() {
			for _, r := range []string{ref, ref2, ref3} {
				images.RemoveImage(context.Background(), r)
			}
		})
	}
	db := testenv.PostgresURL(t)
	env := func(extra ...string) map[string]string {
		e := map[string]string{"RTMANAGER_DATABASE_URL": db, "RTMANAGER_REGISTRY_AUTH": authPath,
			"RTMANAGER_IMAGE_ALLOW": reg.Addr + "/**", "RTMANAGER_PULL_TIMEOUT": "60s"}
		for k, v := range drvEnv {
			e[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			e[extra[i]] = extra[i+1]
		}
		return e
	}
	scope := "img" + testenv.RandomSuffix(3)
	m := serveScoped(t, scope, env())
	api := "http://" + m.Addr() + "/api/v1/internal"
	t.Cleanup(func() { removeAll(t, m) })
	start := func(game, image string) (int, string, time.Duration) {
		began := time.Now()
		st, res := post(t, api+"/runtimes/"+game+"/start", map[string]any{"image_ref": image})
		return st, errText(res), time.Since(began)
	}

	// 10 concurrent starts of new games on a missing image: one pull.
	const n = 10
	var wg sync.WaitGroup
	answers := make([]string, n)
	began := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, msg, _ := start(fmt.Sprintf("%s-c%02d", scope, i), ref)
			answers[i] = fmt.Sprint(st, msg)
		}()
	}
	wg.Wait()
	concurrent := time.Since(began)
	for i, a := range answers {
		if a != "200" {
			t.Errorf("concurrent start %d = %s, want 200", i, a)
		}
	}
	if got := pulls(t, m, "success"); got != 1 {
		t.Errorf("%d concurrent starts on a missing image made %v successful pulls, want 1", n, got)
	}
	_, _, present := start(scope+"-present", ref)

	// Wrong password: unauthorized; fixing the file while running works.
	reg.WriteAuthFile(t, authPath, reg.User, "wrong")
	touch(t, authPath)
	if st, msg, _ := start(scope+"-badauth", ref2); st != http.StatusUnprocessableEntity ||
		!strings.Contains(msg, "image_unavailable") || !strings.Contains(msg, "unauthorized") {
		t.Errorf("start with a wrong password = %d %s, want 422 image_unavailable naming unauthorized", st, msg)
	}
	reg.WriteAuthFile(t, authPath, reg.User, reg.Password)
	touch(t, authPath)
	st, msg, pulled := start(scope+"-pulled", ref2)
	if st != http.StatusOK {
		t.Fatalf("start after fixing the credential file = %d %s, want 200", st, msg)
	}

	// A missing tag is "not found".
	if st, msg, _ := start(scope+"-nf", missing); st != http.StatusUnprocessableEntity || !strings.Contains(msg, "not found") {
		t.Errorf("start of a missing tag = %d %s, want 422 naming not found", st, msg)
	}

	// Pre-pull: digest and size; the allow-list applies.
	st, res := post(t, api+"/images/pull", map[string]any{"image_ref": ref3})
	if st != http.StatusOK || !strings.HasPrefix(fmt.Sprint(res["digest"]), "sha256:") || res["size_bytes"].(float64) <= 0 {
		t.Errorf("pre-pull = %d %v, want 200 with digest and size", st, res)
	}
	if st, res := post(t, api+"/images/pull", map[string]any{"image_ref": "docker.io/library/busybox:1"}); st != http.StatusForbidden {
		t.Errorf("pre-pull outside the allow-list = %d %v, want 403", st, res)
	}

	// Registry down: unreachable; the pre-pulled image starts without it.
	reg.Stop()
	if st, msg, _ := start(scope+"-down", missing); st != http.StatusUnprocessableEntity || !strings.Contains(msg, "registry unreachable") {
		t.Errorf("start with the registry down = %d %s, want 422 naming registry unreachable", st, msg)
	}
	if st, msg, _ := start(scope+"-prepulled", ref3); st != http.StatusOK {
		t.Errorf("start of the pre-pulled image with the registry down = %d %s, want 200", st, msg)
	}
	// Policy always: the registry is unreachable, the local copy is used.
	always := serveScoped(t, scope, env("RTMANAGER_PULL_POLICY", "always"))
	t.Cleanup(func() { removeAll(t, always) })
	alwaysAPI := "http://" + always.Addr() + "/api/v1/internal"
	if st, res := post(t, alwaysAPI+"/runtimes/"+scope+"-always/start", map[string]any{"image_ref": ref}); st != http.StatusOK {
		t.Errorf("policy always, registry down, local copy: start = %d %v, want 200", st, res)
	}
	if got := pulls(t, always, "local_fallback"); got != 1 {
		t.Errorf("local_fallback pulls = %v, want 1", got)
	}
	reg.Start(t)

	// Image GC: stop and remove the game on ref2; a GC instance removes
	// ref2 and keeps ref and ref3, which running games use.
	if st, res := post(t, api+"/runtimes/"+scope+"-pulled/stop", map[string]any{"reason": "admin_request"}); st != http.StatusOK {
		t.Fatalf("stop = %d %v", st, res)
	}
	if st, res := do(t, http.MethodDelete, api+"/runtimes/"+scope+"-pulled", "", "", ""); st != http.StatusOK {
		t.Fatalf("cleanup = %d %s", st, res)
	}
	serveScoped(t, scope, env("RTMANAGER_IMAGE_GC_AFTER", "1s", "RTMANAGER_RECONCILE_INTERVAL", "1s"))
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := images.LocalImage(ctx, ref2)
		if errors.Is(err, ports.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("image GC did not remove the unused %s within 30s (last: %v)", ref2, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, kept := range []string{ref, ref3} {
		if _, err := images.LocalImage(ctx, kept); err != nil {
			t.Errorf("image GC removed %s, which a running game uses: %v", kept, err)
		}
	}
	t.Logf("%s: %d concurrent starts on a missing image (one pull) took %s; a start with the image present %s; a start pulling it from the local registry %s",
		drv, n, concurrent.Round(time.Millisecond), present.Round(time.Millisecond), pulled.Round(time.Millisecond))
}

// errText returns "code: message" of an error answer, "" otherwise.
func errText(res map[string]any) string {
	if e, ok := res["error"].(map[string]any); ok {
		return fmt.Sprintf(" %v: %v", e["code"], e["message"])
	}
	return ""
}

// touch moves path's modification time forward, so a rewrite of the same
// size within the file system's timestamp granularity is seen as a change.
func touch(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	later := st.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// pulls returns rtmanager_image_pulls_total{result} from the instance's
// /metrics.
func pulls(t *testing.T, m *app.Main, result string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rtmanager_image_pulls_total{") || !strings.Contains(line, `result="`+result+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// removeAll stops and removes every runtime of m's store that is not
// removed yet, so no container outlives the test.
func removeAll(t *testing.T, m *app.Main) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, _, err := m.Store().List(ctx, ports.ListQuery{Limit: 1000})
	if err != nil {
		t.Logf("list records: %v", err)
		return
	}
	api := "http://" + m.Addr() + "/api/v1/internal/runtimes/"
	for _, r := range recs {
		post(t, api+r.GameID+"/stop", map[string]any{"reason": "admin_request"})
		do(t, http.MethodDelete, api+r.GameID, "", "", "")
	}
}
