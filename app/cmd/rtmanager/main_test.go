package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "rtmanager ") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
	for _, args := range [][]string{nil, {"dance"}, {"serve", "extra"}, {"serve", "--bogus"}} {
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
	t.Setenv("RTMANAGER_STOP_TIMEOUT", "soon")
	err := run(context.Background(), []string{"serve"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "RTMANAGER_STOP_TIMEOUT") || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad config error = %v", err)
	}
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RTMANAGER_DATA_DIR", dir)
	var out, errb bytes.Buffer
	for range 2 {
		out.Reset()
		if err := run(context.Background(), []string{"migrate"}, &out, &errb); err != nil {
			t.Fatalf("migrate: %v\n%s", err, errb.String())
		}
	}
	if !strings.Contains(out.String(), "migrations applied") {
		t.Errorf("migrate output = %q", out.String())
	}
}

// TestServeErrorsHideSecrets: what serve prints when it cannot start
// (main prints run's error) never carries a database password, whether
// the URL is malformed or the server is down.
func TestServeErrorsHideSecrets(t *testing.T) {
	const pw = "pg-s3cret-hunter2"
	t.Setenv("RTMANAGER_DATA_DIR", t.TempDir())
	t.Setenv("RTMANAGER_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("RTMANAGER_EMBEDDED_REDIS_ADDR", "127.0.0.1:0")
	for _, url := range []string{
		"postgres://rtm:" + pw + "@127.0.0.1:notaport/rtm",
		"postgres://rtm:" + pw + "@127.0.0.1:1/rtm?connect_timeout=1",
		"postgres://rtm@127.0.0.1:1/rtm?connect_timeout=1&password=" + pw,
	} {
		t.Setenv("RTMANAGER_DATABASE_URL", url)
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, []string{"serve"}, &out, &errb)
		cancel()
		if err == nil {
			t.Fatalf("serve with %s succeeded", url)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(errb.String(), pw) {
			t.Errorf("the password is printed:\nerror: %v\nlog: %s", err, errb.String())
		}
	}
}
