package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/imagetest"
)

// TestImageStore runs the image store contract on a real registry.
func TestImageStore(t *testing.T) {
	host := testenv.DockerHost(t)
	imagetest.Run(t, imagetest.Harness{New: func(t *testing.T, auth *registryauth.File) ports.ImageStore {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := docker.New(ctx, docker.Config{Host: host, Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}})
}
