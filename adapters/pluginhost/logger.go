package pluginhost

import (
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogSlog is the hclog.Logger go-plugin logs through, forwarding every
// line into a slog.Logger. go-plugin also re-logs the plugin's stderr
// through it (parsing JSON lines into level, message and attributes), which
// is how plugin logs reach the host's log.
type hclogSlog struct {
	l    *slog.Logger
	name string
	args []any
}

var _ hclog.Logger = (*hclogSlog)(nil)

func newHCLog(l *slog.Logger) *hclogSlog { return &hclogSlog{l: l} }

// hclog's API carries no context; the log lines belong to no request.
var logCtx = context.Background()

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (h *hclogSlog) Log(level hclog.Level, msg string, args ...any) {
	h.l.Log(logCtx, slogLevel(level), msg, args...)
}
func (h *hclogSlog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogSlog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogSlog) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogSlog) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogSlog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogSlog) enabled(level hclog.Level) bool { return h.l.Enabled(logCtx, slogLevel(level)) }
func (h *hclogSlog) IsTrace() bool                  { return h.enabled(hclog.Trace) }
func (h *hclogSlog) IsDebug() bool                  { return h.enabled(hclog.Debug) }
func (h *hclogSlog) IsInfo() bool                   { return h.enabled(hclog.Info) }
func (h *hclogSlog) IsWarn() bool                   { return h.enabled(hclog.Warn) }
func (h *hclogSlog) IsError() bool                  { return h.enabled(hclog.Error) }

func (h *hclogSlog) ImpliedArgs() []any { return h.args }

func (h *hclogSlog) With(args ...any) hclog.Logger {
	return &hclogSlog{l: h.l.With(args...), name: h.name, args: append(append([]any{}, h.args...), args...)}
}

func (h *hclogSlog) Name() string { return h.name }

func (h *hclogSlog) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *hclogSlog) ResetNamed(name string) hclog.Logger {
	return &hclogSlog{l: h.l.With("logger", name), name: name, args: h.args}
}

// SetLevel is a no-op: the slog handler decides what is logged.
func (h *hclogSlog) SetLevel(hclog.Level) {}

func (h *hclogSlog) GetLevel() hclog.Level {
	for _, lvl := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn} {
		if h.enabled(lvl) {
			return lvl
		}
	}
	return hclog.Error
}

func (h *hclogSlog) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.l.Handler(), slog.LevelInfo)
}

func (h *hclogSlog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}
