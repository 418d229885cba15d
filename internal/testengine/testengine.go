// Package testengine is the behaviour contract of the test engine: the
// environment variables with which a test makes it misbehave. The engine
// binary (e2e/engine) reads them with Read, and the fake driver
// (adapters/fakedriver) honours the same ones, so a driver conformance case
// means the same against a real runtime and against the fake.
//
//	PORT                      port to listen on (default 8080)
//	GAME_ID                   shown on / for humans
//	ENGINE_IGNORE_SIGTERM=1   keep running after SIGTERM (only SIGKILL stops it)
//	ENGINE_EXIT_AFTER=d       exit after duration d with ENGINE_EXIT_CODE (default 0)
//	ENGINE_OOM=1              allocate and touch memory until killed
//	ENGINE_OOM_AFTER=d        with ENGINE_OOM, start allocating after duration d
//	ENGINE_UNHEALTHY_AFTER=d  /healthz answers 503 after duration d
//	ENGINE_START_DELAY=d      listen only after duration d
//	ENGINE_SPAM_BYTES=n       write n bytes of output to stdout at start-up
//	                          (log rotation tests), then "engine: spam done"
//
// An engine whose variables do not parse exits at once with ExitBadConfig.
package testengine

import (
	"fmt"
	"strconv"
	"time"
)

// ExitBadConfig is the exit code of an engine whose variables do not parse.
const ExitBadConfig = 2

// DefaultPort is the port the engine listens on without PORT.
const DefaultPort = "8080"

// Config is the engine's behaviour, read from its environment. Zero
// durations mean "never" (StartDelay: "at once").
type Config struct {
	Port           string
	GameID         string
	IgnoreSIGTERM  bool
	ExitAfter      time.Duration
	ExitCode       int
	OOM            bool
	OOMAfter       time.Duration
	UnhealthyAfter time.Duration
	StartDelay     time.Duration
	// SpamBytes is how much output the engine writes at start-up.
	SpamBytes int64
}

// Read reads the engine's Config through getenv (os.Getenv, or a lookup in
// a container spec's env). An error names the variable that does not parse.
func Read(getenv func(string) string) (Config, error) {
	c := Config{
		Port:          getenv("PORT"),
		GameID:        getenv("GAME_ID"),
		IgnoreSIGTERM: getenv("ENGINE_IGNORE_SIGTERM") == "1",
		OOM:           getenv("ENGINE_OOM") == "1",
	}
	if c.Port == "" {
		c.Port = DefaultPort
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{
		{"ENGINE_EXIT_AFTER", &c.ExitAfter},
		{"ENGINE_UNHEALTHY_AFTER", &c.UnhealthyAfter},
		{"ENGINE_START_DELAY", &c.StartDelay},
		{"ENGINE_OOM_AFTER", &c.OOMAfter},
	} {
		if v := getenv(d.key); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s: %w", d.key, err)
			}
			*d.dst = parsed
		}
	}
	if v := getenv("ENGINE_SPAM_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("ENGINE_SPAM_BYTES: %q is not a byte count", v)
		}
		c.SpamBytes = n
	}
	if v := getenv("ENGINE_EXIT_CODE"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("ENGINE_EXIT_CODE: %w", err)
		}
		c.ExitCode = code
	}
	return c, nil
}
