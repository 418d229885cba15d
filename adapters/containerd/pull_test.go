package containerd

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/imagetest"
)

// TestImageStore runs the image store contract on a real registry; the
// containerd resolver talks plain HTTP to it on loopback.
func TestImageStore(t *testing.T) {
	addr := testenv.ContainerdAddress(t)
	imagetest.Run(t, imagetest.Harness{New: func(t *testing.T, auth *registryauth.File) ports.ImageStore {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := New(ctx, Config{Address: addr, Namespace: testNamespace, StateDir: stateDir, Auth: auth})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}})
}
