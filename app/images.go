package app

import (
	"fmt"

	"github.com/galaxy-game/rtmanager/app/config"
	"github.com/galaxy-game/rtmanager/internal/registryauth"
	"github.com/galaxy-game/rtmanager/ports"
)

// openRegistryAuth opens RTMANAGER_REGISTRY_AUTH for the built-in drivers;
// nil when it is not set or the driver is a plugin (plugins get nothing).
// A file that cannot be read or parsed is an error naming the key.
func openRegistryAuth(c config.Config) (*registryauth.File, error) {
	if c.RegistryAuth == "" || c.Driver == config.DriverPlugin {
		return nil, nil
	}
	f, err := registryauth.Open(c.RegistryAuth)
	if err != nil {
		return nil, fmt.Errorf("%sREGISTRY_AUTH: %w: %w", config.Prefix, ports.ErrInvalid, err)
	}
	return f, nil
}
