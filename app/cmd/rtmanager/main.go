// Command rtmanager is the Runtime Manager: it starts, stops, restarts,
// patches and cleans up game engine containers.
//
//	rtmanager serve   [--config file.yaml]   run the service (migrating first)
//	rtmanager migrate [--config file.yaml]   apply pending migrations and exit
//	rtmanager version                        print version, revision and Go version
//	rtmanager healthcheck [--config file.yaml] [--url URL]
//	                                         GET /healthz; exit 1 unless it answers 200
//	rtmanager ctl <command> [args]           operator CLI over the REST API
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/adapters/telemetry"
	"github.com/galaxy-game/rtmanager/app"
	"github.com/galaxy-game/rtmanager/app/config"
	"github.com/galaxy-game/rtmanager/internal/redact"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rtmanager:", err)
		os.Exit(1)
	}
}

// run runs one command. Its error is what main prints, so secrets (URL
// passwords) are masked in it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer func() { err = redact.Error(err) }()
	if len(args) == 0 {
		return errors.New("usage: rtmanager serve|migrate|healthcheck|version [--config file.yaml], or rtmanager ctl <command>")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "ctl" {
		return ctl(ctx, rest, stdout, stderr)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (environment variables win)")
	var url *string
	if cmd == "healthcheck" {
		url = fs.String("url", "", "health URL to check (default: /healthz on RTMANAGER_HTTP_ADDR)")
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch cmd {
	case "version":
		return printVersion(stdout)
	case "serve", "migrate", "healthcheck":
	default:
		return fmt.Errorf("unknown command %q: use serve, migrate, healthcheck or version", cmd)
	}
	if cmd == "healthcheck" && *url != "" {
		return healthcheck(ctx, *url, stdout)
	}
	cfg, err := config.Load(nil, *path)
	if err != nil {
		return err
	}
	if cmd == "healthcheck" {
		u, err := healthURL(cfg.HTTPAddr)
		if err != nil {
			return err
		}
		return healthcheck(ctx, u, stdout)
	}
	logger := slog.New(redact.Handler(telemetry.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))))
	slog.SetDefault(logger)
	if cmd == "migrate" {
		return migrate(ctx, cfg, stdout)
	}
	m := app.New(cfg, logger, version)
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

func migrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	st, err := store.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "migrations applied: schema version %v, %d applied, %d pending\n",
		st.Version, len(st.Applied), len(st.Pending))
	return err
}
