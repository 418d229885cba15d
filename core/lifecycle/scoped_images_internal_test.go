package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/adapters/docker"
	"github.com/galaxy-game/rtmanager/adapters/fakedriver"
	"github.com/galaxy-game/rtmanager/internal/testdocker"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestScopedDriverForwardsImages: the scoped view forwards the image store
// of the driver it wraps, as it forwards Logs and Stats, so ports.ImagesOf
// of the view reaches the real Docker driver's images (the services take
// their image store from the view); a driver without an image store
// answers ErrUnsupported through the view.
func TestScopedDriverForwardsImages(t *testing.T) {
	image := testenv.EngineImage(t)
	raw := testdocker.New(t, docker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	view := ports.ImagesOf(scopedDriver{RuntimeDriver: raw, scope: "blue"})
	got, err := view.LocalImage(ctx, image)
	if err != nil {
		t.Fatalf("LocalImage through the scoped view = %v, want the engine image", err)
	}
	want, err := raw.LocalImage(ctx, image)
	if err != nil || got.ID != want.ID {
		t.Fatalf("LocalImage through the view = %+v, the driver's = %+v (%v)", got, want, err)
	}
	list, err := view.Images(ctx)
	if err != nil {
		t.Fatalf("Images through the scoped view: %v", err)
	}
	found := false
	for _, im := range list {
		found = found || im.ID == want.ID
	}
	if !found {
		t.Errorf("Images through the view lacks %s (%s)", image, want.ID)
	}

	plain := ports.ImagesOf(scopedDriver{RuntimeDriver: fakedriver.New(time.Now), scope: "blue"})
	if _, err := plain.LocalImage(ctx, image); !errors.Is(err, ports.ErrUnsupported) {
		t.Errorf("LocalImage through the view of a driver without images = %v, want ErrUnsupported", err)
	}
}
