package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/ports"
)

// DefaultNetwork is the bridge network engines are attached to (SPEC §11).
const DefaultNetwork = "rtmanager"

// iccOption is the bridge driver option that, set to "false", drops
// traffic between containers of one network: engines reach neither each
// other nor anything else on the bridge, while published ports still
// answer on the host.
const iccOption = "com.docker.network.bridge.enable_icc"

// networkID returns the id of the engine network, creating it on first use
// (and again after it was deleted: forgetNetwork).
func (d *Driver) networkID(ctx context.Context) (string, error) {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	if d.netID != "" {
		return d.netID, nil
	}
	id, err := d.ensureNetwork(ctx)
	if err != nil {
		return "", fmt.Errorf("network %s: %w", d.cfg.Network, err)
	}
	d.netID = id
	return id, nil
}

// forgetNetwork drops the cached network id, so the next Start looks again.
func (d *Driver) forgetNetwork() {
	d.netMu.Lock()
	d.netID = ""
	d.netMu.Unlock()
}

// ensureNetwork returns the id of the bridge network named Config.Network,
// creating it with inter-container traffic off when missing. It is safe
// against other instances doing the same at once: Docker before API 1.44
// lets two creates of one name both succeed, so when several networks
// carry the name, the oldest is kept by everyone and the newer ones that
// rtmanager created are removed. An existing network that is not a bridge
// with inter-container traffic off is refused (ports.ErrInvalid) rather
// than used.
func (d *Driver) ensureNetwork(ctx context.Context) (string, error) {
	name := d.cfg.Network
	for range 3 {
		res, err := d.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
		if err != nil {
			return "", translate(err)
		}
		var same []network.Summary
		for _, n := range res.Items {
			if n.Name == name { // the filter matches substrings
				same = append(same, n)
			}
		}
		if len(same) == 0 {
			_, err := d.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
				Driver:  "bridge",
				Options: map[string]string{iccOption: "false"},
				Labels:  map[string]string{ports.LabelManaged: "true"},
			})
			if err != nil && !cerrdefs.IsConflict(err) {
				return "", translate(err)
			}
			continue // list again: another instance may have created one too
		}
		slices.SortFunc(same, func(a, b network.Summary) int {
			return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
		})
		keep := same[0]
		for _, n := range same[1:] {
			if n.Labels[ports.LabelManaged] == "true" {
				// A twin from a create race; one with endpoints stays.
				_, _ = d.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			}
		}
		if keep.Driver != "bridge" || keep.Options[iccOption] != "false" {
			return "", fmt.Errorf("%w: existing network %s (%s) is not a bridge with %s=false; remove it so rtmanager can create it",
				ports.ErrInvalid, name, keep.ID, iccOption)
		}
		return keep.ID, nil
	}
	return "", fmt.Errorf("%w: network %s vanished while being created", ports.ErrUnavailable, name)
}

// errNetworkRace marks a start that failed because the engine network it
// was created on lost a create race between instances: Docker (before API
// 1.44) lets two creates of one name both succeed and resolves a
// container's network by name when it starts it, so the start meets two
// networks of that name ("is ambiguous"), or the twin another instance has
// just removed ("not found"). Start then removes the container and creates
// it again, at most maxNetworkRaces times.
var errNetworkRace = errors.New("engine network changed during a create race")

// maxNetworkRaces bounds Start's re-creations after errNetworkRace.
const maxNetworkRaces = 8

func isNetworkRace(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "is ambiguous") ||
		(cerrdefs.IsNotFound(err) && strings.Contains(msg, "network"))
}

// containerStart starts id.
func (d *Driver) containerStart(ctx context.Context, id string) error {
	_, err := d.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return err
}
