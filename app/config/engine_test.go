package config_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/app/config"
)

// TestEngineHardeningKeys covers RTMANAGER_SCOPE, RTMANAGER_ENGINE_USER and
// RTMANAGER_READ_ONLY_ROOTFS: good values load, bad ones fail with one line
// naming the key.
func TestEngineHardeningKeys(t *testing.T) {
	c, err := config.Load(env(map[string]string{"RTMANAGER_SCOPE": "blue2", "RTMANAGER_ENGINE_USER": "65534:65533",
		"RTMANAGER_READ_ONLY_ROOTFS": "true"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Scope != "blue2" || c.EngineUser != "65534:65533" || !c.ReadOnlyRootFS {
		t.Errorf("loaded scope %q user %q read-only %v", c.Scope, c.EngineUser, c.ReadOnlyRootFS)
	}
	if d, err := config.Load(env(nil), ""); err != nil || d.Scope != "default" || d.EngineUser != "" || d.ReadOnlyRootFS {
		t.Errorf("defaults: scope %q user %q read-only %v, %v", d.Scope, d.EngineUser, d.ReadOnlyRootFS, err)
	}
	for key, values := range map[string][]string{
		"RTMANAGER_SCOPE":            {"", "bb-x", "Blue", "a.b", strings.Repeat("s", 21)},
		"RTMANAGER_ENGINE_USER":      {"nobody", "1000", "1000:", ":1000", "-1:0", "1000:1000:1", "4294967296:0"},
		"RTMANAGER_READ_ONLY_ROOTFS": {"yes please"},
	} {
		for _, v := range values {
			_, err := config.Load(env(map[string]string{key: v}), "")
			if err == nil {
				t.Errorf("%s=%q accepted", key, v)
				continue
			}
			if msg := err.Error(); !strings.Contains(msg, key) || strings.Contains(msg, "\n") {
				t.Errorf("error %q must be one line naming %s", msg, key)
			}
		}
	}
}
