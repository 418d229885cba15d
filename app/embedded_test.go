package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/app/apptest"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// TestEmbeddedRedisLockedDown: with the embedded Redis, Open makes the data
// dir 0700, writes the password-carrying URL to embedded-redis.url with
// mode 0600, never logs the password, and a client without the password
// is refused (NOAUTH); Close removes the URL file.
func TestEmbeddedRedisLockedDown(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := load(t, map[string]string{"RTMANAGER_DATA_DIR": dataDir, "RTMANAGER_DOCKER_HOST": testenv.DockerHost(t)})
	var logs bytes.Buffer
	m := app.New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)), "test")
	apptest.Open(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if fi, err := os.Stat(dataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v %v, want mode 0700", fi.Mode(), err)
	}
	file := filepath.Join(dataDir, app.EmbeddedRedisURLFile)
	fi, err := os.Lstat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("url file: %v %v, want a regular file with mode 0600", fi, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSpace(string(b))
	opt, err := rueidis.ParseURL(url)
	if err != nil || url != m.RedisURL() || len(opt.Password) < 20 {
		t.Fatalf("url file holds %q (%v), want the embedded server's URL with its password", url, err)
	}
	if strings.Contains(logs.String(), opt.Password) {
		t.Fatalf("the embedded Redis password is in the log:\n%s", logs.String())
	}

	opt.ForceSingleClient, opt.DisableCache = true, true
	withPw, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("connect with the url file: %v", err)
	}
	defer withPw.Close()
	if err := withPw.Do(ctx, withPw.B().Xlen().Key("runtime:start_jobs").Build()).Error(); err != nil {
		t.Fatalf("XLEN with the password: %v", err)
	}
	opt.Username, opt.Password = "", ""
	noPw, err := rueidis.NewClient(opt)
	if err == nil {
		defer noPw.Close()
		err = noPw.Do(ctx, noPw.B().Xadd().Key("runtime:start_jobs").Id("*").FieldValue().
			FieldValue("game_id", "forged").FieldValue("image_ref", "evil:1").Build()).Error()
	}
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("XADD without the password: %v, want NOAUTH", err)
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("url file after Close: %v, want it removed", err)
	}
}
