package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
