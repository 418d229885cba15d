// Command fleetplugin is the driver plugin of TestScaleRSS10k: the fake
// driver (adapters/fakedriver, not live: no engine listens on the
// endpoints) served over go-plugin, which at start runs one container per
// game of a fleet, so rtmanager's List returns them as a runtime holding
// that many engines would. Its containers live in this process, as a real
// runtime's live in its daemon, so they do not count in rtmanager's RSS.
//
// Arguments: games prefix image idsFile. Game i is prefix-%05d; when the
// fleet runs, "game<TAB>container id<TAB>endpoint" lines are written to
// idsFile (renamed into place, so a reader sees all of them or none).
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
	"github.com/galaxy-game/rtmanager/ports"
)

func main() {
	log := sdk.Logger()
	if len(os.Args) != 5 {
		log.Error("usage: fleetplugin games prefix image idsFile")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 0 {
		log.Error("games must be a non-negative integer", "value", os.Args[1])
		os.Exit(2)
	}
	prefix, image, idsFile := os.Args[2], os.Args[3], os.Args[4]
	d := fakedriver.New(nil)
	d.AddImage(image, fakedriver.Behavior{})
	var b strings.Builder
	for i := range n {
		g := fmt.Sprintf("%s-%05d", prefix, i)
		c, err := d.Start(context.Background(), ports.ContainerSpec{Name: core.ContainerName(core.DefaultScope, g, 1),
			Image: image, Labels: lifecycle.Labels(g, 1, image), Port: 8080, HostIP: "127.0.0.1"})
		if err != nil {
			log.Error("start fleet", "game", g, "error", err)
			os.Exit(1)
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\n", g, c.ID, c.Endpoint)
	}
	if err := os.WriteFile(idsFile+".tmp", []byte(b.String()), 0o600); err != nil {
		log.Error("write ids", "error", err)
		os.Exit(1)
	}
	if err := os.Rename(idsFile+".tmp", idsFile); err != nil {
		log.Error("write ids", "error", err)
		os.Exit(1)
	}
	sdk.Serve(d)
}
