package redact_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/galaxy-game/rtmanager/internal/redact"
)

// BenchmarkHandler measures one typical operation log line through the
// JSON handler, plain and redacting.
func BenchmarkHandler(b *testing.B) {
	for name, h := range map[string]slog.Handler{
		"plain":  slog.NewJSONHandler(io.Discard, nil),
		"redact": redact.Handler(slog.NewJSONHandler(io.Discard, nil)),
	} {
		b.Run(name, func(b *testing.B) {
			log := slog.New(h).With("component", "lifecycle")
			err := errors.New("sqlstore: get: service unavailable: failed to connect to `user=rtm database=rtm`: dial error")
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(context.Background(), slog.LevelInfo, "operation finished", slog.String("game_id", "g1"),
					slog.String("op_kind", "start"), slog.String("correlation_id", "c-123"), slog.String("outcome", "failure"),
					slog.Any("err", err), slog.Int64("duration_ms", 12))
			}
		})
	}
}
