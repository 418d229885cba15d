// Package sdk is what an integrator needs to write a runtime driver plugin
// for rtmanager: implement ports.RuntimeDriver, call Serve from main, and
// prove the driver with sdktest.Conformance in one `go test`. See docs/plugins.md.
//
//	func main() {
//		d, err := mydriver.New(sdk.StateDir("mydriver"), sdk.Logger())
//		if err != nil {
//			sdk.Logger().Error("start driver", "error", err)
//			os.Exit(1)
//		}
//		sdk.Serve(d)
//	}
package sdk

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
	"github.com/galaxy-game/rtmanager/ports"
)

// EnvStateDir names the environment variable in which the host passes the
// directory a plugin keeps its state in (pluginhost.Config.StateDir).
const EnvStateDir = "RTMANAGER_PLUGIN_STATE_DIR"

// Serve serves driver to the rtmanager host that started this process and
// returns when the host shuts the plugin down. It never returns for a
// process not started by a host: it prints a notice and exits 1.
//
// Serve logs to stderr (never stdout, which carries the go-plugin
// handshake) and ignores SIGPIPE, so a write to a stderr whose reader has
// gone cannot kill the plugin. It exits when its parent, the host, is gone
// (removing its unix socket, which os.Exit would leave behind): the next
// host starts a new plugin, which must recover the engines from the
// driver's own state (see docs/plugins.md). When driver implements
// io.Closer, it is closed before Serve returns or exits.
func Serve(driver ports.RuntimeDriver) {
	signal.Ignore(syscall.SIGPIPE)
	done := make(chan struct{})
	defer close(done)
	go exitWithParent(driver, done)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  driverplugin.Handshake,
		VersionedPlugins: driverplugin.ServePlugins(driver),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "plugin", Output: os.Stderr, JSONFormat: true, Level: hclog.Info,
		}),
	})
	closeDriver(driver)
}

// exitWithParent ends the process once its parent has died (the process is
// re-parented, so its parent pid changes), removing its socket first.
func exitWithParent(driver ports.RuntimeDriver, done <-chan struct{}) {
	parent := os.Getppid()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if os.Getppid() != parent {
				Logger().Warn("host process is gone; plugin exiting", "host_pid", parent)
				closeDriver(driver)
				removeOwnSockets()
				os.Exit(0)
			}
		}
	}
}

func closeDriver(driver ports.RuntimeDriver) {
	if c, ok := driver.(io.Closer); ok {
		if err := c.Close(); err != nil {
			Logger().Error("close driver", "error", err)
		}
	}
}

// Logger returns a slog.Logger that writes to stderr in the JSON shape
// go-plugin parses, so the host re-logs each line at its own level with its
// attributes.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

// StateDir returns the directory a plugin named name should keep its
// state in: the host's EnvStateDir when set, else
// $XDG_STATE_HOME/rtmanager/<name> (~/.local/state/rtmanager/<name>).
func StateDir(name string) string {
	if dir := os.Getenv(EnvStateDir); dir != "" {
		return dir
	}
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "rtmanager", name)
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "rtmanager", name)
	}
	return filepath.Join(os.TempDir(), "rtmanager-"+name)
}
