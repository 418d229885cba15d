// Package imagetest is the contract suite of ports.ImageStore against a real
// registry: Debian's docker-registry on loopback with htpasswd auth
// (testenv.StartRegistry), holding the test engine image. Every driver with
// an image store runs it:
//
//	imagetest.Run(t, imagetest.Harness{
//		New: func(t *testing.T, auth *registryauth.File) ports.ImageStore { … },
//	})
package imagetest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// Harness adapts one driver to the suite.
type Harness struct {
	// New returns an image store whose pulls use the credentials of auth
	// (RTMANAGER_REGISTRY_AUTH; nil sends none).
	New func(t *testing.T, auth *registryauth.File) ports.ImageStore
}

// open returns h's store on the config.json at path ("" for none).
func (h Harness) open(t *testing.T, path string) ports.ImageStore {
	t.Helper()
	auth, err := registryauth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return h.New(t, auth)
}

// timeout bounds one call of the suite.
const timeout = 2 * time.Minute

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// Run runs the suite. The registry is started once; the unreachable case
// stops it and runs last.
func Run(t *testing.T, h Harness) {
	reg := testenv.StartRegistry(t)
	repo := "rtm/engine-" + testenv.RandomSuffix(3)
	ref := reg.PushEngine(t, repo, "v1")
	missing := reg.Addr + "/" + repo + ":no-such-tag"

	t.Run("GoodCredentials", func(t *testing.T) {
		s := h.open(t, reg.AuthFile(t, reg.User, reg.Password))
		ctx := ctxFor(t)
		if _, err := s.LocalImage(ctx, ref); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("LocalImage before the pull = %v, want ErrNotFound", err)
		}
		img, err := s.PullImage(ctx, ref)
		if err != nil {
			t.Fatalf("PullImage(%s): %v", ref, err)
		}
		t.Cleanup(func() { s.RemoveImage(context.Background(), ref) })
		if !strings.HasPrefix(img.Digest, "sha256:") || img.SizeBytes <= 0 {
			t.Errorf("PullImage = %+v, want a sha256 digest and a size", img)
		}
		local, err := s.LocalImage(ctx, ref)
		if err != nil || local.Digest != img.Digest {
			t.Errorf("LocalImage after the pull = %+v, %v; want digest %s", local, err, img.Digest)
		}
		all, err := s.Images(ctx)
		if err != nil {
			t.Fatalf("Images: %v", err)
		}
		if !hasRef(all, ref) {
			t.Errorf("Images does not list %s: %+v", ref, all)
		}
		if err := s.RemoveImage(ctx, ref); err != nil {
			t.Fatalf("RemoveImage: %v", err)
		}
		if _, err := s.LocalImage(ctx, ref); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("LocalImage after RemoveImage = %v, want ErrNotFound", err)
		}
		if err := s.RemoveImage(ctx, ref); err != nil {
			t.Errorf("RemoveImage of a missing image = %v, want nil", err)
		}
	})

	t.Run("WrongPasswordIsUnauthorized", func(t *testing.T) {
		s := h.open(t, reg.AuthFile(t, reg.User, "wrong"))
		_, err := s.PullImage(ctxFor(t), ref)
		if !errors.Is(err, ports.ErrImageUnauthorized) {
			t.Fatalf("PullImage with a wrong password = %v, want ErrImageUnauthorized", err)
		}
		if strings.Contains(err.Error(), reg.Password) {
			t.Errorf("the error shows the password: %v", err)
		}
	})

	t.Run("NoCredentialsIsUnauthorized", func(t *testing.T) {
		s := h.open(t, "")
		if _, err := s.PullImage(ctxFor(t), ref); !errors.Is(err, ports.ErrImageUnauthorized) {
			t.Fatalf("PullImage without credentials = %v, want ErrImageUnauthorized", err)
		}
	})

	t.Run("EditedFileTakesEffect", func(t *testing.T) {
		path := reg.AuthFile(t, reg.User, "wrong")
		s := h.open(t, path)
		ctx := ctxFor(t)
		if _, err := s.PullImage(ctx, ref); !errors.Is(err, ports.ErrImageUnauthorized) {
			t.Fatalf("PullImage before the edit = %v, want ErrImageUnauthorized", err)
		}
		reg.WriteAuthFile(t, path, reg.User, reg.Password)
		// A same-size rewrite within the file system's timestamp
		// granularity would look unchanged; make the change visible.
		later := time.Now().Add(2 * time.Second)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PullImage(ctx, ref); err != nil {
			t.Fatalf("PullImage after fixing the file: %v", err)
		}
		s.RemoveImage(context.Background(), ref)
	})

	t.Run("MissingTagIsNotFound", func(t *testing.T) {
		s := h.open(t, reg.AuthFile(t, reg.User, reg.Password))
		if _, err := s.PullImage(ctxFor(t), missing); !errors.Is(err, ports.ErrImageNotFound) {
			t.Fatalf("PullImage(%s) = %v, want ErrImageNotFound", missing, err)
		}
	})

	t.Run("ShortDeadlineIsTimeout", func(t *testing.T) {
		s := h.open(t, reg.AuthFile(t, reg.User, reg.Password))
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		<-ctx.Done()
		_, err := s.PullImage(ctx, ref)
		if !errors.Is(err, ports.ErrPullTimeout) {
			t.Fatalf("PullImage past its deadline = %v, want ErrPullTimeout", err)
		}
		s.RemoveImage(context.Background(), ref)
	})

	t.Run("StoppedRegistryIsUnreachable", func(t *testing.T) {
		s := h.open(t, reg.AuthFile(t, reg.User, reg.Password))
		reg.Stop()
		t.Cleanup(func() { reg.Start(t) })
		if _, err := s.PullImage(ctxFor(t), ref); !errors.Is(err, ports.ErrRegistryUnreachable) {
			t.Fatalf("PullImage from a stopped registry = %v, want ErrRegistryUnreachable", err)
		}
	})
}

func hasRef(imgs []ports.Image, ref string) bool {
	for _, i := range imgs {
		if i.Ref == ref {
			return true
		}
	}
	return false
}
