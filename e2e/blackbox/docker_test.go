//go:build e2e

package blackbox

import (
	"testing"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// suite is one rtmanager instance and what its tests need to reach it.
type suite struct {
	inst    *harness.Instance
	redis   *streams
	image   string // the engine image
	other   string // another tag of it: a different image_ref that works
	bad     string // an image whose engine exits at once
	created []string
}

// game returns a fresh game id whose Docker containers are removed when t
// ends.
func (s *suite) game(t *testing.T, prefix string) string { return dockerGame(t, prefix) }

// TestDockerServerStores runs the Docker driver with PostgreSQL and the
// test redis-server, and shares that instance between the transition
// table (REST and streams), the audit log and the health events.
func TestDockerServerStores(t *testing.T) {
	testenv.DockerHost(t)
	s := &suite{image: testenv.EngineImage(t)}
	s.other, s.bad = otherImage(t), badImage(t)
	env := serverStores(t, baseEnv())
	// 32MiB is ample for the test engine and makes ENGINE_OOM quick.
	env["RTMANAGER_MEMORY_LIMIT"] = "32MiB"
	s.inst = harness.Start(t, harness.Options{Env: env})
	s.redis = dialRedis(t, env["RTMANAGER_REDIS_URL"])

	t.Run("rest", func(t *testing.T) { testTransitionsREST(t, s) })
	t.Run("streams", func(t *testing.T) { testTransitionsStreams(t, s) })
	t.Run("audit", func(t *testing.T) { testAudit(t, s) })
	t.Run("health", func(t *testing.T) { testHealth(t, s) })
}
