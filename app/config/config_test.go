package config_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/app/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/var/lib/x")
	c, err := config.Load(env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"http addr":    c.HTTPAddr == "127.0.0.1:8080",
		"database":     c.DatabaseURL == "sqlite:///var/lib/x/rtmanager/rtmanager.db",
		"redis":        c.RedisURL == "embedded",
		"driver":       c.Driver == "docker",
		"timeouts":     c.StopTimeout == 10*time.Second && c.StartTimeout == 30*time.Second && c.LeaseTTL == 30*time.Second,
		"engine":       c.EnginePort == 8080 && c.EngineHealthPath == "/healthz" && c.HostIP == "127.0.0.1",
		"limits":       c.MemoryLimit == 512<<20 && c.NanoCPUs == 1e9 && c.PidsLimit == 256,
		"auto migrate": c.AutoMigrate,
		"instance":     c.InstanceID != "",
		"log level":    c.LogLevel == slog.LevelInfo,
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("default %s wrong: %+v", name, c)
		}
	}
}

func TestEnvOverFileOverDefault(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rtm.yaml")
	yaml := "stop_timeout: 3s\nstart_timeout: 7s\nimage_allow: [\"games/*\", \"tools/*\"]\nplugin_args:\n  - -v\n  - --x=1\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(env(map[string]string{"RTMANAGER_STOP_TIMEOUT": "4s", "RTMANAGER_DATA_DIR": dir}), path)
	if err != nil {
		t.Fatal(err)
	}
	if c.StopTimeout != 4*time.Second || c.StartTimeout != 7*time.Second {
		t.Errorf("stop %s start %s", c.StopTimeout, c.StartTimeout)
	}
	if len(c.ImageAllow) != 2 || c.ImageAllow.Check("tools/x") != nil || len(c.PluginArgs) != 2 {
		t.Errorf("allow %q args %q", c.ImageAllow, c.PluginArgs)
	}
}

func TestInvalidValuesNameTheKey(t *testing.T) {
	bad := map[string]string{
		"RTMANAGER_HTTP_ADDR":          "8080",
		"RTMANAGER_DATABASE_URL":       "mysql://x",
		"RTMANAGER_REDIS_URL":          "http://x",
		"RTMANAGER_DRIVER":             "podman",
		"RTMANAGER_STOP_TIMEOUT":       "10",
		"RTMANAGER_START_TIMEOUT":      "1ms",
		"RTMANAGER_ENGINE_PORT":        "70000",
		"RTMANAGER_ENGINE_HEALTH_PATH": "healthz",
		"RTMANAGER_HOST_IP":            "localhost",
		"RTMANAGER_MEMORY_LIMIT":       "lots",
		"RTMANAGER_CPU_LIMIT":          "-1",
		"RTMANAGER_PIDS_LIMIT":         "x",
		"RTMANAGER_PROBE_FAILURES":     "0",
		"RTMANAGER_AUTO_MIGRATE":       "sometimes",
		"RTMANAGER_PLUGIN_SHA256":      "abc",
		"RTMANAGER_IMAGE_ALLOW":        "games/../x",
		"RTMANAGER_ENV_DENY":           "ld_*",
		"RTMANAGER_MAX_RUNTIMES":       "-1",
		"RTMANAGER_MAX_INFLIGHT":       "0",
		"RTMANAGER_INSTANCE_ID":        "has space",
		"RTMANAGER_LOG_LEVEL":          "loud",
	}
	for key, v := range bad {
		t.Run(key, func(t *testing.T) {
			_, err := config.Load(env(map[string]string{key: v}), "")
			if err == nil {
				t.Fatalf("%s=%q accepted", key, v)
			}
			if msg := err.Error(); !strings.Contains(msg, key) || strings.Contains(msg, "\n") {
				t.Errorf("error %q must be one line naming %s", msg, key)
			}
		})
	}
	t.Run("plugin without path", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{"RTMANAGER_DRIVER": "plugin"}), "")
		if err == nil || !strings.Contains(err.Error(), "RTMANAGER_PLUGIN_PATH") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("lease shorter than stop", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{"RTMANAGER_LEASE_TTL": "5s"}), "")
		if err == nil || !strings.Contains(err.Error(), "RTMANAGER_LEASE_TTL") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown yaml key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		_ = os.WriteFile(path, []byte("stop_timout: 1s\n"), 0o600)
		if _, err := config.Load(env(nil), path); err == nil || !strings.Contains(err.Error(), "stop_timout") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := config.Load(env(nil), "/nonexistent/rtm.yaml"); err == nil {
			t.Error("missing file accepted")
		}
	})
}

func TestSizes(t *testing.T) {
	for v, want := range map[string]int64{"0": 0, "65536": 65536, "64KiB": 64 << 10, "2GiB": 2 << 30, "100MB": 100e6} {
		c, err := config.Load(env(map[string]string{"RTMANAGER_MEMORY_LIMIT": v}), "")
		if err != nil || c.MemoryLimit != want {
			t.Errorf("MEMORY_LIMIT=%s → %d, %v; want %d", v, c.MemoryLimit, err, want)
		}
	}
}

// TestKeysDocumented keeps the README's configuration table complete.
func TestKeysDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("README.md not readable: %v", err)
	}
	for _, k := range config.Keys() {
		if !strings.Contains(string(readme), k.Env()) {
			t.Errorf("README.md does not document %s", k.Env())
		}
	}
}

// TestSecurityDefaults: the env deny list defaults to SPEC §11's and cannot
// be blanked; the capacity limits default to SPEC §10's.
func TestSecurityDefaults(t *testing.T) {
	for _, v := range []map[string]string{{}, {"RTMANAGER_ENV_DENY": " "}} {
		c, err := config.Load(env(v), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.EnvDeny.Denies("LD_PRELOAD") == "" || c.EnvDeny.Denies("JAVA_TOOL_OPTIONS") == "" {
			t.Errorf("env %v: deny list %q misses the default", v, c.EnvDeny)
		}
		if c.MaxInflight != 64 || c.MaxRuntimes != 0 {
			t.Errorf("max in-flight %d, max runtimes %d; want 64 and 0", c.MaxInflight, c.MaxRuntimes)
		}
	}
	c, err := config.Load(env(map[string]string{"RTMANAGER_ENV_DENY": "SECRET_*", "RTMANAGER_MAX_RUNTIMES": "10"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.EnvDeny.Denies("SECRET_X") == "" || c.EnvDeny.Denies("LD_PRELOAD") != "" || c.MaxRuntimes != 10 {
		t.Errorf("deny %q, max runtimes %d", c.EnvDeny, c.MaxRuntimes)
	}
}
