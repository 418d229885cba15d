//go:build e2e

package blackbox

import (
	"net/http"
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestEngineHardening runs `rtmanager serve` on Docker with
// RTMANAGER_ENGINE_USER and RTMANAGER_READ_ONLY_ROOTFS (SPEC §11) and a
// scope of its own: a started engine is named rtm-<scope>-<game>-1, sits
// on the "rtmanager" network, runs as the configured uid:gid and may write
// only under /tmp. A container of that name left with another image (as
// after a database reset) makes the start a 409 conflict and is not
// touched.
func TestEngineHardening(t *testing.T) {
	testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	env := serverStores(t, baseEnv())
	env["RTMANAGER_ENGINE_USER"] = "65534:65533"
	env["RTMANAGER_READ_ONLY_ROOTFS"] = "true"
	// The hand-made container below is an orphan of this scope: keep the
	// reconciler's hands off it while the test looks.
	env["RTMANAGER_ORPHAN_GRACE"] = "1h"
	scope := env["RTMANAGER_SCOPE"]
	inst := harness.Start(t, harness.Options{Env: env})

	game := harness.GameID("hard")
	harness.RemoveDockerContainers(t, game)
	rt := mustOp(t, inst, game, "start", startBody(image, nil))
	if name := docker(t, "inspect", "-f", "{{.Name}}", rt.ContainerID); name != "/"+core.ContainerName(scope, game, 1) {
		t.Errorf("container name %s, want /%s", name, core.ContainerName(scope, game, 1))
	}
	if nets := docker(t, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", rt.ContainerID); nets != "rtmanager" {
		t.Errorf("container networks %q, want only rtmanager", nets)
	}
	testenv.CheckEngineUserReadOnly(t, rt.Endpoint, 65534, 65533)

	taken := harness.GameID("taken")
	harness.RemoveDockerContainers(t, taken)
	name := core.ContainerName(scope, taken, 1)
	squatter := docker(t, "run", "-d", "--name", name,
		"--label", "rtmanager.managed=true", "--label", "rtmanager.game_id="+taken,
		"--label", "rtmanager.generation=1", "--label", "rtmanager.image_ref=registry.invalid/other:1",
		"--label", "rtmanager.scope="+scope, image)
	a := op(t, inst, taken, "start", startBody(image, nil))
	if a.HTTP != http.StatusConflict || a.code() != "conflict" {
		t.Errorf("start over a same-named container of another image = %s, want 409 conflict", a)
	}
	state := docker(t, "inspect", "-f", "{{.State.Status}} {{.Id}}", name)
	if !strings.HasPrefix(state, "running ") || !strings.HasSuffix(state, squatter) {
		t.Errorf("the other image's container after the start: %q, want it running, id %s", state, squatter)
	}
}
