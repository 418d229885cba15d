package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// screenshotDirEnv, when set, is where TestStatusPageInChromium also saves
// its screenshot (docs/img for the README).
const screenshotDirEnv = "RTMANAGER_TEST_SCREENSHOT_DIR"

// chromium runs Debian's headless chromium on url with extra flags and
// returns its standard output.
func chromium(t *testing.T, url string, flags ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "chromium is not installed (apt-get install -y chromium)")
	}
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", flags, err, errb.String())
	}
	return out.String()
}

// TestStatusPageInChromium loads the status page and a running engine's
// game page in headless Chromium with an API token configured, signing in
// the way a browser can (HTTP Basic, the token as password), and checks
// what an operator sees: the game, its status, an engine line and the
// resource figures.
func TestStatusPageInChromium(t *testing.T) {
	host := testenv.DockerHost(t)
	image := testenv.EngineImage(t)
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Missing(t, "chromium is not installed (apt-get install -y chromium)")
	}
	const token = "browser-test-token"
	s := serveMain(t, map[string]string{"RTMANAGER_DOCKER_HOST": host, "RTMANAGER_API_TOKEN": token})
	game := "browser-" + testenv.RandomSuffix(3)
	removeGames(t, game)
	api := func(method, path string, body any) (int, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, s.base+path, r)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := noKeepAlive.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := api(http.MethodPost, game+"/start", map[string]any{"image_ref": image}); code != 200 {
		t.Fatalf("start = %d %s", code, body)
	}
	t.Cleanup(func() { api(http.MethodPost, game+"/stop", map[string]any{"reason": "admin_request"}) })
	line := "browser-visible line " + testenv.RandomSuffix(3)
	s.say(game, "stdout", line)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, body := api(http.MethodGet, game+"/logs?tail=5", nil); code == 200 && strings.Contains(string(body), line) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine line never reached the logs")
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}

	base := "http://operator:" + token + "@" + s.m.Addr()
	list := chromium(t, base+"/status", "--dump-dom")
	if !strings.Contains(list, `href="/status/games/`+game+`"`) || !strings.Contains(list, "running: <b>1</b>") {
		t.Errorf("status page in chromium lacks the game link or the count:\n%s", list)
	}
	page := chromium(t, base+"/status/games/"+game, "--dump-dom")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<code>` + game + `</code>`),
		regexp.MustCompile(`id="status">running<`),
		regexp.MustCompile(regexp.QuoteMeta(line)),
		regexp.MustCompile(`id="memory">[0-9.]+ [KMG]iB<`),
		regexp.MustCompile(`id="pids">[0-9]+<`),
		regexp.MustCompile(`id="cpu">[0-9.]+ %<`),
		regexp.MustCompile(`<td>start</td>`),
	} {
		if !want.MatchString(page) {
			t.Errorf("game page in chromium lacks %s:\n%s", want, page)
		}
	}
	// Without credentials the browser gets no data.
	if denied := chromium(t, "http://"+s.m.Addr()+"/status/games/"+game, "--dump-dom"); strings.Contains(denied, line) {
		t.Errorf("the game page without credentials showed:\n%s", denied)
	}

	shot := filepath.Join(t.TempDir(), "status-game.png")
	chromium(t, base+"/status/games/"+game, "--screenshot="+shot, "--window-size=1200,1500", "--hide-scrollbars")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10<<10 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if dir := os.Getenv(screenshotDirEnv); dir != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(filepath.Join(dir, "status-game.png"), data, 0o644); err != nil {
			t.Errorf("save the screenshot: %v", err)
		}
	}
}
