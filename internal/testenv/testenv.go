// Package testenv finds the real components tests run against (PostgreSQL,
// Redis, the Docker engine, a standalone containerd) from the environment
// that scripts/services.sh prints. A missing component skips the test
// locally and fails it under CI=true, so CI can never pass by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/galaxy-game/rtmanager/internal/redact"
)

// Environment variables naming the components.
const (
	EnvPostgres   = "RTMANAGER_TEST_POSTGRES_URL"
	EnvRedis      = "RTMANAGER_TEST_REDIS_URL"
	EnvDocker     = "RTMANAGER_TEST_DOCKER_HOST"
	EnvContainerd = "RTMANAGER_TEST_CONTAINERD_ADDRESS"
)

// InCI reports whether the tests run in CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips tb with reason locally and fails it in CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("required component missing in CI: %s", msg)
	}
	tb.Skipf("component missing (run scripts/services.sh up): %s", msg)
}

// Lookup returns the value of the environment variable env or calls Missing.
func Lookup(tb testing.TB, env string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		Missing(tb, "%s is not set", env)
	}
	return v
}

// RandomSuffix returns n random hex bytes, for names of scratch resources.
func RandomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// PostgresURL creates a scratch database on the test server, drops it when
// tb ends, and returns its URL.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := Lookup(tb, EnvPostgres)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		Missing(tb, "postgres at %s: %v", redact.URL(admin), err)
	}
	name := "rtm_test_" + RandomSuffix(6)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			tb.Errorf("open postgres for cleanup: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisURL returns the URL of the test redis-server.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	return Lookup(tb, EnvRedis)
}

// DockerHost returns the Docker engine address (unix:///...).
func DockerHost(tb testing.TB) string {
	tb.Helper()
	return Lookup(tb, EnvDocker)
}

// ContainerdAddress returns the socket path of the standalone containerd.
func ContainerdAddress(tb testing.TB) string {
	tb.Helper()
	return Lookup(tb, EnvContainerd)
}
