// Command engine is a stand-in game engine for tests. It serves GET /healthz
// on 0.0.0.0:$PORT (default 8080) and misbehaves on request, so drivers and
// the health monitor can be tested against every way a real engine fails.
//
// Environment:
//
//	PORT                    port to listen on (default 8080)
//	GAME_ID                 shown on / for humans
//	ENGINE_IGNORE_SIGTERM=1 keep running after SIGTERM (only SIGKILL stops it)
//	ENGINE_EXIT_AFTER=d     exit after duration d with ENGINE_EXIT_CODE (default 0)
//	ENGINE_OOM=1            allocate and touch memory until killed
//	ENGINE_OOM_AFTER=d      with ENGINE_OOM, start allocating after duration d
//	ENGINE_UNHEALTHY_AFTER=d  /healthz answers 503 after duration d
//	ENGINE_START_DELAY=d    listen only after duration d
//	ENGINE_SPAM_BYTES=n     write n bytes of output to stdout at start-up
//	                        (log rotation tests), then "engine: spam done"
//
// internal/testengine reads these variables; the fake driver honours the
// same ones.
//
// Endpoints: GET /healthz ("ok" or 503), GET / (a human summary), GET /env
// (the process environment as a JSON object, so tests can check what the
// driver passed), GET /id (uid and gid as JSON), GET /addrs (the
// interface addresses), GET /dial?addr=host:port (200 when a TCP
// connection succeeds within 2s, 502 otherwise), GET /spam (JSON: bytes
// of ENGINE_SPAM_BYTES written so far and whether it is done) POST
// /write?path=p (200 when the file can be written, 500 otherwise): what an
// isolation test asks an engine to try; GET /say?to=stdout|stderr&line=text
// writes the line to that stream, so log tests control the engine's output.
//
// It is built with CGO_ENABLED=0 and runs alone in a FROM scratch image.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testengine"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	cfg, err := testengine.Read(os.Getenv)
	if err != nil {
		log.Printf("engine: %v", err)
		os.Exit(testengine.ExitBadConfig)
	}
	os.Exit(run(cfg))
}

// run serves until SIGTERM/SIGINT (unless ignored) or the configured exit,
// and returns the process exit code.
func run(cfg testengine.Config) int {
	started := time.Now()
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	exit := make(chan int, 1)
	if cfg.ExitAfter > 0 {
		time.AfterFunc(cfg.ExitAfter, func() { exit <- cfg.ExitCode })
	}
	if cfg.OOM {
		time.AfterFunc(cfg.OOMAfter, eatMemory)
	}
	if cfg.SpamBytes > 0 {
		go spam(cfg.SpamBytes)
	}

	srv := &http.Server{Handler: handler(cfg, started), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() {
		if cfg.StartDelay > 0 {
			log.Printf("engine: delaying start by %s", cfg.StartDelay)
			time.Sleep(cfg.StartDelay) // the behaviour under test, not a wait for a condition
		}
		ln, err := net.Listen("tcp", "0.0.0.0:"+cfg.Port)
		if err != nil {
			serveErr <- err
			return
		}
		log.Printf("engine: game %q listening on %s", cfg.GameID, ln.Addr())
		serveErr <- srv.Serve(ln)
	}()

	for {
		select {
		case sig := <-signals:
			if cfg.IgnoreSIGTERM && sig == syscall.SIGTERM {
				log.Printf("engine: ignoring %s", sig)
				continue
			}
			log.Printf("engine: %s, shutting down", sig)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
			return 0
		case code := <-exit:
			log.Printf("engine: exiting with code %d as configured", code)
			return code
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return 0
			}
			log.Printf("engine: serve: %v", err)
			return 1
		}
	}
}

func handler(cfg testengine.Config, started time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.UnhealthyAfter > 0 && time.Since(started) >= cfg.UnhealthyAfter {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /say", say)
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		env := make(map[string]string)
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("GET /spam", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"written": spamWritten.Load(), "done": spamDone.Load()})
	})
	mux.HandleFunc("GET /id", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"uid": os.Getuid(), "gid": os.Getgid()})
	})
	mux.HandleFunc("GET /addrs", func(w http.ResponseWriter, _ *http.Request) {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var out []string
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				out = append(out, ipn.IP.String())
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /dial", func(w http.ResponseWriter, r *http.Request) {
		c, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), 2*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c.Close()
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		if err := os.WriteFile(r.URL.Query().Get("path"), []byte("x"), 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "rtmanager test engine\ngame: %s\nup: %s\n", cfg.GameID, time.Since(started).Round(time.Second))
		keys := os.Environ()
		sort.Strings(keys)
		for _, kv := range keys {
			fmt.Fprintln(w, kv)
		}
	})
	return mux
}

// Progress of spam, for GET /spam.
var (
	spamWritten atomic.Int64
	spamDone    atomic.Bool
)

// spam writes n bytes to stdout in 64 KiB lines.
func spam(n int64) {
	defer spamDone.Store(true)
	line := []byte(strings.Repeat("s", 64<<10-1) + "\n")
	for n > 0 {
		k := min(n, int64(len(line)))
		if _, err := os.Stdout.Write(line[len(line)-int(k):]); err != nil {
			log.Printf("engine: spam: %v", err)
			return
		}
		n -= k
		spamWritten.Add(k)
	}
	log.Printf("engine: spam done")
}

// eatMemory allocates 8 MiB chunks and writes every page so they are
// resident, until the kernel kills the process.
func eatMemory() {
	const chunk = 8 << 20
	var hoard [][]byte
	for {
		b := make([]byte, chunk)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hoard = append(hoard, b)
		if len(hoard)%16 == 0 {
			log.Printf("engine: holding %d MiB", len(hoard)*chunk>>20)
		}
	}
}

// say writes the query's line to stdout or stderr, one whole line.
func say(w http.ResponseWriter, r *http.Request) {
	line := strings.ReplaceAll(r.URL.Query().Get("line"), "\n", " ")
	out := os.Stdout
	switch r.URL.Query().Get("to") {
	case "stderr":
		out = os.Stderr
	case "", "stdout":
	default:
		http.Error(w, "to must be stdout or stderr", http.StatusBadRequest)
		return
	}
	if _, err := fmt.Fprintln(out, line); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
