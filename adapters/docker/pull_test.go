package docker_test

import (
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/internal/testdocker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/imagetest"
)

// TestImageStore runs the image store contract on a real registry.
func TestImageStore(t *testing.T) {
	host := testenv.DockerHost(t)
	imagetest.Run(t, imagetest.Harness{New: func(t *testing.T, auth *registryauth.File) ports.ImageStore {
		return testdocker.New(t, docker.Config{Host: host, Auth: auth})
	}})
}
