package docker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/internal/testdocker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestNetworkCreateRace: four instances (drivers) start an engine each at
// once on a network that does not exist yet. Docker 20.10 lets concurrent
// creates of one name all succeed; afterwards exactly one network of that
// name must remain, a bridge with inter-container traffic off, and every
// engine must be attached to it.
func TestNetworkCreateRace(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	cli := newClient(t, host)
	name := "rtm-test-net-" + testenv.RandomSuffix(4)
	game := "net-" + testenv.RandomSuffix(4)
	const n = 4
	drivers := make([]*docker.Driver, n)
	for i := range drivers {
		drivers[i] = testdocker.New(t, docker.Config{Host: host, Network: name})
	}
	t.Cleanup(func() {
		removeGame(t, drivers[0], game)
		removeNetworks(t, cli, name)
	})
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i, d := range drivers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := d.Start(ctx, isoSpec(image, game, int64(i+1), nil))
			if err != nil {
				t.Errorf("Start #%d: %v", i, err)
				return
			}
			ids[i] = c.ID
		})
	}
	wg.Wait()
	nets := networksNamed(t, cli, name)
	if len(nets) != 1 {
		t.Fatalf("%d networks named %s after a create race, want 1: %v", len(nets), name, nets)
	}
	for i, id := range ids {
		if id == "" {
			continue
		}
		got, err := cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ep := got.Container.NetworkSettings.Networks[name]; ep == nil || ep.NetworkID != nets[0] {
			t.Errorf("engine #%d networks %v, want only %s (%s)", i, got.Container.NetworkSettings.Networks, name, nets[0])
		}
	}
}

// TestNetworkWithICCRefused: an existing network of the configured name
// that lets containers talk to each other is not used.
func TestNetworkWithICCRefused(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	cli := newClient(t, host)
	name := "rtm-test-icc-" + testenv.RandomSuffix(4)
	if _, err := cli.NetworkCreate(t.Context(), name, client.NetworkCreateOptions{Driver: "bridge"}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() { removeNetworks(t, cli, name) })
	d := testdocker.New(t, docker.Config{Host: host, Network: name})
	game := "icc-" + testenv.RandomSuffix(4)
	t.Cleanup(func() { removeGame(t, d, game) })
	if _, err := d.Start(t.Context(), isoSpec(image, game, 1, nil)); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("Start on a network with inter-container traffic on = %v, want ErrInvalid", err)
	}
}

// newClient returns a Docker client for host, closed when t ends.
func newClient(t *testing.T, host string) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func networksNamed(t *testing.T, cli *client.Client, name string) []string {
	t.Helper()
	res, err := cli.NetworkList(context.Background(), client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range res.Items {
		if n.Name == name {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func removeNetworks(t *testing.T, cli *client.Client, name string) {
	for _, id := range networksNamed(t, cli, name) {
		if _, err := cli.NetworkRemove(context.Background(), id, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("remove network %s: %v", id, err)
		}
	}
}
