// Package config reads rtmanager's configuration: environment variables
// with the RTMANAGER_ prefix over an optional YAML file (keys are the same
// names in lower case without the prefix, e.g. `stop_timeout: 5s`), over
// built-in defaults. Every value is validated at start-up; an invalid one
// fails with one line naming the key.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/hosts"
	"github.com/galaxy-game/rtmanager/internal/redact"
)

// Prefix is the prefix of every environment variable.
const Prefix = "RTMANAGER_"

// Drivers that RTMANAGER_DRIVER selects.
const (
	DriverDocker     = "docker"
	DriverContainerd = "containerd"
	DriverPlugin     = "plugin"
)

// EmbeddedRedis is the RTMANAGER_REDIS_URL value that runs the in-process
// Redis-protocol server.
const EmbeddedRedis = "embedded"

// Config is the whole configuration of one rtmanager instance.
type Config struct {
	HTTPAddr            string
	DatabaseURL         string
	AutoMigrate         bool
	RedisURL            string
	EmbeddedRedisAddr   string
	Driver              string
	Scope               string
	DockerHost          string
	ContainerdAddress   string
	ContainerdNamespace string
	PluginPath          string
	PluginArgs          []string
	PluginSHA256        string
	APIToken            string
	AllowedHosts        hosts.Allowed
	InsecureNoAuth      bool
	ImageAllow          core.ImageAllow
	EnvDeny             core.EnvDeny
	PullPolicy          core.PullPolicy
	PullTimeout         time.Duration
	RegistryAuth        string
	ImageGCAfter        time.Duration
	MaxRuntimes         int
	MaxInflight         int
	StopTimeout         time.Duration
	StartTimeout        time.Duration
	LeaseTTL            time.Duration
	EnginePort          int
	EngineHealthPath    string
	HostIP              string
	MemoryLimit         int64
	NanoCPUs            int64
	PidsLimit           int64
	EngineUser          string
	ReadOnlyRootFS      bool
	ReconcileInterval   time.Duration
	ProbeInterval       time.Duration
	ProbeFailures       int
	CleanupAfter        time.Duration
	OrphanGrace         time.Duration
	ClaimIdle           time.Duration
	StreamConcurrency   int
	MaxDeliveries       int
	StreamMaxLen        int
	ShutdownTimeout     time.Duration
	DataDir             string
	InstanceID          string
	LogLevel            slog.Level
	OTLPEndpoint        string
}

// Key describes one configuration key.
type Key struct {
	// Name is the key without prefix in upper case, e.g. STOP_TIMEOUT.
	Name    string
	Default string
	Doc     string
	set     func(c *Config, v string) error
}

// Env returns the key's environment variable name.
func (k Key) Env() string { return Prefix + k.Name }

// quote returns v for an error message: quoted with its secrets masked,
// or not at all for the API token.
func (k Key) quote(v string) string {
	if k.Name == "API_TOKEN" {
		return "(hidden)"
	}
	return strconv.Quote(redact.String(v))
}

// Keys returns every key in documentation order.
func Keys() []Key { return keys }

// Load reads the configuration from the environment (through lookup; nil
// means os.LookupEnv) over the YAML file at path (empty: none) over the
// defaults.
func Load(lookup func(string) (string, bool), path string) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	file := map[string]string{}
	if path != "" {
		var err error
		if file, err = readYAML(path); err != nil {
			return Config{}, err
		}
	}
	var c Config
	for _, k := range keys {
		v, ok := lookup(k.Env())
		if !ok {
			v, ok = file[strings.ToLower(k.Name)]
		}
		if !ok {
			v = k.Default
		}
		if err := k.set(&c, v); err != nil {
			return Config{}, fmt.Errorf("config: %s=%s: %w", k.Env(), k.quote(v), redact.Error(err))
		}
	}
	if err := c.finish(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func readYAML(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	raw := map[string]any{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config: parse %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, k := range keys {
		known[strings.ToLower(k.Name)] = true
	}
	out := map[string]string{}
	for name, v := range raw {
		if !known[name] {
			return nil, fmt.Errorf("config: %s: unknown key %q", path, name)
		}
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[name] = strings.Join(parts, ",")
		case map[string]any:
			return nil, fmt.Errorf("config: %s: key %q must be a scalar or a list", path, name)
		case nil:
			out[name] = ""
		default:
			out[name] = fmt.Sprint(v)
		}
	}
	return out, nil
}

// finish fills derived defaults and checks cross-key rules.
func (c *Config) finish() error {
	if c.DataDir == "" {
		dir, err := defaultDataDir()
		if err != nil {
			return fmt.Errorf("%sDATA_DIR: %w", Prefix, err)
		}
		c.DataDir = dir
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "rtmanager.db")
	}
	if c.InstanceID == "" {
		host, _ := os.Hostname()
		c.InstanceID = fmt.Sprintf("%s-%d", cleanID(host), os.Getpid())
	}
	if c.Driver == DriverPlugin && c.PluginPath == "" {
		return fmt.Errorf("%sPLUGIN_PATH: required when %sDRIVER=plugin", Prefix, Prefix)
	}
	if c.ImageGCAfter > 0 && len(c.ImageAllow) == 0 {
		return fmt.Errorf("%sIMAGE_GC_AFTER=%s: needs a non-empty %sIMAGE_ALLOW (image GC removes only allow-listed images)",
			Prefix, c.ImageGCAfter, Prefix)
	}
	if c.StopTimeout >= c.LeaseTTL {
		return fmt.Errorf("%sLEASE_TTL=%s: must exceed %sSTOP_TIMEOUT=%s so a stop cannot outlive its lease unrenewed",
			Prefix, c.LeaseTTL, Prefix, c.StopTimeout)
	}
	return nil
}

// CheckExposure is the rule `serve` applies before it listens (SPEC §11):
// without an API token the HTTP API may listen only on a loopback address,
// unless InsecureNoAuth says the operator means it. It is not part of Load
// because `migrate` does not listen.
func (c Config) CheckExposure() error {
	if hosts.IsLoopbackAddr(c.HTTPAddr) || c.APIToken != "" || c.InsecureNoAuth {
		return nil
	}
	return fmt.Errorf("config: %sHTTP_ADDR=%q is not a loopback address and %sAPI_TOKEN is empty: set a token, "+
		"listen on 127.0.0.1, or set %sINSECURE_NO_AUTH=true to serve the API to anyone who reaches it", Prefix, c.HTTPAddr, Prefix, Prefix)
}

func defaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "rtmanager"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data home: %w", err)
	}
	return filepath.Join(home, ".local", "share", "rtmanager"), nil
}

func cleanID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
	if s == "" {
		return "rtmanager"
	}
	return s
}

// Parsers shared by the key table.

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = strings.TrimSpace(v); return nil }
}

func duration(dst func(*Config) *time.Duration, min time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a duration (use Go syntax such as 2s or 500ms)")
		}
		if d < min {
			return fmt.Errorf("must be at least %s", min)
		}
		*dst(c) = d
		return nil
	}
}

func integer(dst func(*Config) *int, min, max int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min || n > max {
			return fmt.Errorf("must be an integer from %d to %d", min, max)
		}
		*dst(c) = n
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return errors.New("must be true or false")
		}
		*dst(c) = b
		return nil
	}
}

func oneOf(dst func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
		}
		*dst(c) = v
		return nil
	}
}

func hostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("must be host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q out of range", port)
	}
	if host == "" {
		return fmt.Errorf("host must not be empty (use 127.0.0.1 or 0.0.0.0 explicitly)")
	}
	return nil
}

// loopbackHost checks that host:port v names a loopback IP address or
// localhost.
func loopbackHost(v string) error {
	host, _, _ := net.SplitHostPort(v)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("must be a loopback address (127.0.0.1, ::1 or localhost): the embedded Redis is for this host only")
	}
	return nil
}

func checkURL(v string, schemes ...string) error {
	u, err := url.Parse(v)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the URL, password and all
		}
		return fmt.Errorf("not a URL: %v", err)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("scheme %q is not one of %s", u.Scheme, strings.Join(schemes, ", "))
	}
	return nil
}

// parseBytes reads 512MiB, 1GiB, 100MB, 65536 (bytes); 0 means unlimited.
func parseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, errors.New("must be a size such as 512MiB, 2GiB or a byte count")
	}
	return n * mult, nil
}
