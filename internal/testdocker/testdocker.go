// Package testdocker opens the Docker driver on the test Docker host: the
// one place tests of any package get a real docker.Driver from.
package testdocker

import (
	"context"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// New connects a docker.Driver with cfg (Host defaults to
// testenv.DockerHost) and closes it when the test ends. A daemon that
// cannot be reached skips tb locally and fails it in CI (testenv.Missing).
func New(tb testing.TB, cfg docker.Config) *docker.Driver {
	tb.Helper()
	if cfg.Host == "" {
		cfg.Host = testenv.DockerHost(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := docker.New(ctx, cfg)
	if err != nil {
		testenv.Missing(tb, "docker at %s: %v", cfg.Host, err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}
