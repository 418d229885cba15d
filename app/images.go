package app

import (
	"context"
	"fmt"
	"time"

	"github.com/galaxy-game/rtmanager/app/config"
	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/ports"
)

// openRegistryAuth opens RTMANAGER_REGISTRY_AUTH for the built-in drivers;
// nil when it is not set or the driver is a plugin (plugins get nothing).
// A file that cannot be read or parsed is an error naming the key.
func openRegistryAuth(c config.Config) (*registryauth.File, error) {
	if c.Driver == config.DriverPlugin {
		return nil, nil
	}
	f, err := registryauth.Open(c.RegistryAuth)
	if err != nil {
		return nil, fmt.Errorf("%sREGISTRY_AUTH: %w: %w", config.Prefix, ports.ErrInvalid, err)
	}
	return f, nil
}

// startImageGC starts the image GC loop when RTMANAGER_IMAGE_GC_AFTER is
// set: a pass every quarter of the GC age (at least a second, at most the
// reconcile interval).
func (m *Main) startImageGC(ctx context.Context, every func(string, time.Duration, bool, func(context.Context))) {
	c := m.Config
	if c.ImageGCAfter <= 0 {
		return
	}
	gc, err := m.services.NewImageGC(c.ImageGCAfter)
	if err != nil {
		// Config validation makes this unreachable; say so loudly if not.
		m.Logger.Error("image GC disabled", "err", err)
		return
	}
	every("image_gc", min(c.ReconcileInterval, max(c.ImageGCAfter/4, time.Second)), false, func(ctx context.Context) {
		if _, err := gc.Pass(ctx); err != nil {
			m.Logger.Warn("image GC pass", "err", err)
		}
	})
}
