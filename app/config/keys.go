package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/hosts"
)

// keys is the table of every configuration key, in documentation order.
var keys = []Key{
	{"HTTP_ADDR", "127.0.0.1:8080", "Address the REST API, /metrics and probes listen on.",
		func(c *Config, v string) error { c.HTTPAddr = strings.TrimSpace(v); return hostPort(c.HTTPAddr) }},
	{"DATABASE_URL", "", "`postgres://…` or `sqlite://path`; empty means a SQLite file in the data dir.",
		func(c *Config, v string) error {
			c.DatabaseURL = strings.TrimSpace(v)
			if c.DatabaseURL == "" {
				return nil
			}
			return checkURL(c.DatabaseURL, "postgres", "postgresql", "sqlite")
		}},
	{"AUTO_MIGRATE", "true", "`serve` applies pending migrations before starting.", boolean(func(c *Config) *bool { return &c.AutoMigrate })},
	{"REDIS_URL", EmbeddedRedis, "`redis://host:port/db`, or `embedded` for the in-process Redis-protocol server.",
		func(c *Config, v string) error {
			c.RedisURL = strings.TrimSpace(v)
			if c.RedisURL == EmbeddedRedis {
				return nil
			}
			return checkURL(c.RedisURL, "redis", "rediss")
		}},
	{"EMBEDDED_REDIS_ADDR", "127.0.0.1:6380", "Where the embedded Redis listens: a loopback address only. It requires a password made at each start; the full URL is written to `<data_dir>/embedded-redis.url` (mode 0600) for local tools.",
		func(c *Config, v string) error {
			c.EmbeddedRedisAddr = strings.TrimSpace(v)
			if err := hostPort(c.EmbeddedRedisAddr); err != nil {
				return err
			}
			return loopbackHost(c.EmbeddedRedisAddr)
		}},
	{"DRIVER", DriverDocker, "Runtime driver: docker, containerd or plugin.",
		oneOf(func(c *Config) *string { return &c.Driver }, DriverDocker, DriverContainerd, DriverPlugin)},
	{"SCOPE", "default", "Deployment scope: 1-20 chars of [a-z0-9]. It labels every container and, unless `default`, is part of its name (`rtm-<scope>-<game_id>-<generation>`); instances manage only their scope's containers (separate deployments sharing one runtime).",
		func(c *Config, v string) error {
			c.Scope = strings.TrimSpace(v)
			if err := core.ValidateScope(c.Scope); err != nil {
				return fmt.Errorf("must be 1-%d chars of [a-z0-9]", core.MaxScopeLen)
			}
			return nil
		}},
	{"DOCKER_HOST", "unix:///var/run/docker.sock", "Docker Engine API address (docker driver).", str(func(c *Config) *string { return &c.DockerHost })},
	{"CONTAINERD_ADDRESS", "/run/containerd/containerd.sock", "containerd socket (containerd driver).", str(func(c *Config) *string { return &c.ContainerdAddress })},
	{"CONTAINERD_NAMESPACE", "rtmanager", "containerd namespace of rtmanager's containers.", str(func(c *Config) *string { return &c.ContainerdNamespace })},
	{"PLUGIN_PATH", "", "Driver plugin executable (plugin driver).", str(func(c *Config) *string { return &c.PluginPath })},
	{"PLUGIN_ARGS", "", "Comma-separated arguments for the plugin executable (its only configuration: a plugin gets an allow-listed environment, never RTMANAGER_*).",
		func(c *Config, v string) error { c.PluginArgs = splitList(v); return nil }},
	{"PLUGIN_SHA256", "", "Expected SHA-256 (hex) of the plugin executable; the host then runs a verified private copy. Empty skips the check.",
		func(c *Config, v string) error {
			c.PluginSHA256 = strings.ToLower(strings.TrimSpace(v))
			if c.PluginSHA256 != "" && (len(c.PluginSHA256) != 64 || strings.Trim(c.PluginSHA256, "0123456789abcdef") != "") {
				return fmt.Errorf("must be 64 hex digits")
			}
			return nil
		}},
	{"API_TOKEN", "", "Bearer token required by the REST API; empty disables auth (then `serve` listens only on loopback unless INSECURE_NO_AUTH).",
		func(c *Config, v string) error { c.APIToken = v; return nil }},
	{"ALLOWED_HOSTS", "", "Comma-separated `Host` names or IPs the HTTP API answers besides loopback ones: `name` matches any port, `name:port` only that port, an IP prefix such as `10.0.0.0/8` any address in it. Other hosts get 403 (DNS-rebinding guard); /healthz and /readyz answer every host.",
		func(c *Config, v string) (err error) { c.AllowedHosts, err = hosts.ParseAllowed(v); return err }},
	{"INSECURE_NO_AUTH", "false", "Lets `serve` listen on a non-loopback HTTP_ADDR without API_TOKEN: anyone who reaches the port controls every game.",
		boolean(func(c *Config) *bool { return &c.InsecureNoAuth })},
	{"IMAGE_ALLOW", "", "Comma-separated image patterns matched segment by segment against the normalised reference (`*` and `?` within a segment, `**` across segments; `nginx` means `docker.io/library/nginx`); empty allows every image.",
		func(c *Config, v string) (err error) { c.ImageAllow, err = core.ParseImageAllow(v); return err }},
	{"PULL_POLICY", string(core.PullIfNotPresent), "When a start pulls its image: `if_not_present`, `always` (pull before every start; an unreachable registry falls back to the local copy with a warning) or `never` (a missing image is image_unavailable; POST /images/pull still pulls).",
		func(c *Config, v string) (err error) {
			c.PullPolicy, err = core.ParsePullPolicy(strings.TrimSpace(v))
			return err
		}},
	{"PULL_TIMEOUT", "5m", "Bound on one image pull; a pull past it is image_unavailable (timeout).", duration(func(c *Config) *time.Duration { return &c.PullTimeout }, time.Second)},
	{"REGISTRY_AUTH", "", "Path of a Docker `config.json` whose `auths` (`auth`, `username`/`password` or `identitytoken`) give per-registry credentials to the docker and containerd drivers; re-read when it changes. Empty sends none. Plugins get nothing from it.",
		func(c *Config, v string) error { c.RegistryAuth = strings.TrimSpace(v); return nil }},
	{"IMAGE_GC_AFTER", "0", "Remove allow-listed images that no container and no runtime record has used for this long (docker and containerd drivers); 0 disables image GC.", duration(func(c *Config) *time.Duration { return &c.ImageGCAfter }, 0)},
	{"ENV_DENY", core.DefaultEnvDeny, "Comma-separated globs of env names a job may not set (invalid_request); empty means the default. GAME_ID, PORT and RTMANAGER_* are always reserved.",
		func(c *Config, v string) (err error) { c.EnvDeny, err = core.ParseEnvDeny(v); return err }},
	{"STOP_TIMEOUT", "10s", "Grace period between SIGTERM and SIGKILL.", duration(func(c *Config) *time.Duration { return &c.StopTimeout }, 0)},
	{"START_TIMEOUT", "30s", "How long a start waits for the engine to become ready.", duration(func(c *Config) *time.Duration { return &c.StartTimeout }, 100*time.Millisecond)},
	{"LEASE_TTL", "30s", "Per-game lease TTL; renewed every third of it while an operation runs.", duration(func(c *Config) *time.Duration { return &c.LeaseTTL }, 300*time.Millisecond)},
	{"ENGINE_PORT", "8080", "Container port the engine listens on (passed in PORT by Docker).", integer(func(c *Config) *int { return &c.EnginePort }, 1, 65535)},
	{"ENGINE_HEALTH_PATH", "/healthz", "Engine HTTP health path; empty disables HTTP probing.",
		func(c *Config, v string) error {
			c.EngineHealthPath = strings.TrimSpace(v)
			if c.EngineHealthPath != "" && !strings.HasPrefix(c.EngineHealthPath, "/") {
				return fmt.Errorf("must start with /")
			}
			return nil
		}},
	{"HOST_IP", "127.0.0.1", "Host IP engine ports are published on.",
		func(c *Config, v string) error {
			c.HostIP = strings.TrimSpace(v)
			if net.ParseIP(c.HostIP) == nil {
				return fmt.Errorf("not an IP address")
			}
			return nil
		}},
	{"MEMORY_LIMIT", "512MiB", "Memory limit per engine (0 = unlimited).", func(c *Config, v string) (err error) { c.MemoryLimit, err = parseBytes(v); return err }},
	{"CPU_LIMIT", "1", "CPUs per engine, e.g. 0.5 (0 = unlimited).",
		func(c *Config, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1024 {
				return fmt.Errorf("must be a number of CPUs from 0 to 1024")
			}
			c.NanoCPUs = int64(f * 1e9)
			return nil
		}},
	{"PIDS_LIMIT", "256", "Process limit per engine (0 = unlimited).",
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("must be a non-negative integer")
			}
			c.PidsLimit = n
			return nil
		}},
	{"ENGINE_USER", "", "Numeric `uid:gid` engines run as; empty keeps the image's user (docker and containerd apply it; plugins receive it in the container spec).",
		func(c *Config, v string) error { c.EngineUser = strings.TrimSpace(v); return engineUser(c.EngineUser) }},
	{"READ_ONLY_ROOTFS", "false", "Engines get a read-only root filesystem with a 64 MiB tmpfs `/tmp` (docker and containerd apply it; plugins receive it in the container spec).", boolean(func(c *Config) *bool { return &c.ReadOnlyRootFS })},
	{"RECONCILE_INTERVAL", "30s", "How often the reconciler compares records with containers.", duration(func(c *Config) *time.Duration { return &c.ReconcileInterval }, 100*time.Millisecond)},
	{"PROBE_INTERVAL", "10s", "How often every running engine's health path is probed.", duration(func(c *Config) *time.Duration { return &c.ProbeInterval }, 50*time.Millisecond)},
	{"PROBE_FAILURES", "3", "Consecutive missed probes that make health_check_failed.", integer(func(c *Config) *int { return &c.ProbeFailures }, 1, 1000)},
	{"CLEANUP_AFTER", "24h", "The janitor removes runtimes stopped longer than this.", duration(func(c *Config) *time.Duration { return &c.CleanupAfter }, 0)},
	{"ORPHAN_GRACE", "2m", "A labelled container without a matching record is left alone this long.", duration(func(c *Config) *time.Duration { return &c.OrphanGrace }, 0)},
	{"CLAIM_IDLE", "30s", "A stream job pending this long on a silent consumer (a dead instance) is claimed by another; live instances touch their running jobs every third of it.", duration(func(c *Config) *time.Duration { return &c.ClaimIdle }, 100*time.Millisecond)},
	{"MAX_DELIVERIES", "5", "A stream job delivered more than this many times (its handling crashed or panicked each time) gets a failure result with `internal` and is acked: dead-lettered.", integer(func(c *Config) *int { return &c.MaxDeliveries }, 1, 1000)},
	{"STREAM_MAXLEN", "100000", "`runtime:job_results` and `runtime:health_events` are trimmed to about this many entries (XADD MAXLEN ~); handled job entries are deleted.", integer(func(c *Config) *int { return &c.StreamMaxLen }, 1, 1_000_000_000)},
	{"MAX_RUNTIMES", "0", "Most runtimes running or starting at once (all instances, counted in the store); a start beyond it is capacity_exceeded (429). 0 = no limit.", integer(func(c *Config) *int { return &c.MaxRuntimes }, 0, 1<<30)},
	{"MAX_INFLIGHT", "64", "Most lifecycle operations one instance runs at once; more are capacity_exceeded (429).", integer(func(c *Config) *int { return &c.MaxInflight }, 1, 1<<20)},
	{"STREAM_CONCURRENCY", "8", "Stream jobs handled at once by one instance.", integer(func(c *Config) *int { return &c.StreamConcurrency }, 1, 1024)},
	{"SHUTDOWN_TIMEOUT", "30s", "How long shutdown waits for in-flight operations.", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, 0)},
	{"DATA_DIR", "", "Where embedded state lives; empty means $XDG_DATA_HOME/rtmanager or ~/.local/share/rtmanager.", str(func(c *Config) *string { return &c.DataDir })},
	{"INSTANCE_ID", "", "Consumer name in the stream group; empty means <hostname>-<pid>.",
		func(c *Config, v string) error {
			c.InstanceID = strings.TrimSpace(v)
			if len(c.InstanceID) > 128 || cleanID(c.InstanceID) != c.InstanceID && c.InstanceID != "" {
				return fmt.Errorf("must be at most 128 chars of [A-Za-z0-9._-]")
			}
			return nil
		}},
	{"LOG_LEVEL", "info", "debug, info, warn or error.",
		func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(strings.TrimSpace(v))) }},
	{"OTLP_ENDPOINT", "", "OTLP gRPC endpoint for traces (OTEL_EXPORTER_OTLP_ENDPOINT is used when this is empty).", str(func(c *Config) *string { return &c.OTLPEndpoint })},
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// engineUser checks a numeric uid:gid; empty is allowed.
func engineUser(v string) error {
	if v == "" {
		return nil
	}
	if _, _, err := core.ParseEngineUser(v); err != nil {
		return fmt.Errorf("must be numeric uid:gid, e.g. 65534:65534")
	}
	return nil
}
