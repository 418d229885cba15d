//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/e2e/harness"
	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// bootResult is one start of `rtmanager serve` on the embedded defaults.
type bootResult struct {
	Fresh bool // a new data dir: the SQLite file is created and migrated
	Ready time.Duration
	// RSS is VmRSS right after /readyz answered 200, and IdleRSS after two
	// seconds without work (the first reconcile and probe passes ran).
	RSS, IdleRSS int64
}

// measureBoot execs `rtmanager serve`, built as a release is
// (harness.ReleaseBinary), with no configuration but free
// loopback ports and a data dir (SQLite, embedded Redis, Docker driver),
// polls /readyz every millisecond until it answers 200, reads VmRSS, and
// stops the process with SIGTERM.
func measureBoot(tb testing.TB, dataDir string, fresh bool) bootResult {
	tb.Helper()
	bin := harness.ReleaseBinary(tb)
	addr := harness.FreeAddr(tb)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "RTMANAGER_HTTP_ADDR="+addr, "RTMANAGER_DATA_DIR="+dataDir,
		"RTMANAGER_EMBEDDED_REDIS_ADDR="+harness.FreeAddr(tb), "RTMANAGER_DOCKER_HOST="+testenv.DockerHost(tb))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	hc := &http.Client{Timeout: time.Second}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	var r bootResult
	r.Fresh = fresh
	for {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("rtmanager exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := hc.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				r.Ready = time.Since(begin)
				break
			}
		}
		if time.Since(begin) > 30*time.Second {
			tb.Fatalf("not ready in 30s\n%s", logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	var err error
	if r.RSS, err = harness.RSS(cmd.Process.Pid); err != nil {
		tb.Fatal(err)
	}
	// Idle: two seconds without work; the first reconcile pass and the
	// janitor/probe timers have run by then.
	time.Sleep(2 * time.Second)
	if r.IdleRSS, err = harness.RSS(cmd.Process.Pid); err != nil {
		tb.Fatal(err)
	}
	return r
}

// measurePlugin runs the plugin host's own benchmarks (adapters/pluginhost
// bench_test.go) in one run: BenchmarkInspectPaired (Inspect of a running
// engine on the process driver in-process, behind the host over the frame
// channel and over gRPC, side by side), BenchmarkCapabilities (the bare
// round trip, per design) and BenchmarkSocketFloor (a raw Unix-socket
// ping-pong with another process). It returns each benchmark's metrics by
// unit, keyed by the benchmark's name without "Benchmark" and the -N suffix
// (e.g. "InspectPaired", "Capabilities/plugin").
func measurePlugin(tb testing.TB) (map[string]map[string]float64, string) {
	tb.Helper()
	root := moduleRoot(tb)
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^(BenchmarkInspectPaired|BenchmarkCapabilities|BenchmarkSocketFloor)$",
		"-benchtime", "5000x", "-count", "1", "./adapters/pluginhost")
	cmd.Dir = root
	raw, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("pluginhost benchmarks: %v\n%s", err, raw)
	}
	raw = withoutLogLines(raw)
	name := regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?$`)
	res := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		m := name.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		metrics := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			metrics[f[i+1]] = v
		}
		res[m[1]] = metrics
	}
	if len(res) == 0 {
		tb.Fatalf("no benchmark lines in:\n%s", raw)
	}
	return res, string(raw)
}

// measurePluginStartStop runs the plugin host's BenchmarkStartStopPaired
// and returns its metrics by unit.
func measurePluginStartStop(tb testing.TB) (map[string]float64, string) {
	tb.Helper()
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkStartStopPaired$",
		"-benchtime", "200x", "-count", "1", "./adapters/pluginhost")
	cmd.Dir = moduleRoot(tb)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("pluginhost start/stop benchmark: %v\n%s", err, raw)
	}
	raw = withoutLogLines(raw)
	res := map[string]float64{}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "BenchmarkStartStopPaired") {
			continue
		}
		lines = append(lines, line)
		f := strings.Fields(line)
		for i := 2; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			res[f[i+1]] = v
		}
	}
	if len(res) == 0 {
		tb.Fatalf("no BenchmarkStartStopPaired line in:\n%s", raw)
	}
	return res, strings.Join(lines, "\n") + "\n"
}

// logLine is a log line of the plugin host or plugin (slog text); go test
// interleaves them with a benchmark's result line, splitting it.
var logLine = regexp.MustCompile(`(?m)time=\S+ level=[A-Z]+ [^\n]*\n`)

// withoutLogLines removes the log lines from benchmark output.
func withoutLogLines(raw []byte) []byte { return logLine.ReplaceAll(raw, nil) }
