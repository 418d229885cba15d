package rest

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/internal/redact"
)

// readyTimeout bounds one /readyz answer; the checks run at once.
const readyTimeout = 5 * time.Second

// readiness runs the /readyz checks and logs their errors: at warn level
// when the set of failing dependencies changes, at debug level while it
// stays the same, so a probe polling every second does not flood the log.
type readiness struct {
	checks []Check

	mu   sync.Mutex
	last string // the failing names of the previous answer, joined
}

// check probes every dependency at once and returns the names of those
// that failed, in configuration order. A panicking probe panics the
// caller (the recoverer answers it) once every probe has returned.
func (rd *readiness) check(ctx context.Context, log *slog.Logger) []string {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	errs := make([]error, len(rd.checks))
	panics := make([]any, len(rd.checks))
	var wg sync.WaitGroup
	for i, c := range rd.checks {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = c.Probe(ctx)
		})
	}
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	var failing []string
	for i, err := range errs {
		if err != nil {
			failing = append(failing, rd.checks[i].Name)
		}
	}
	joined := strings.Join(failing, ",")
	rd.mu.Lock()
	changed := joined != rd.last
	rd.last = joined
	rd.mu.Unlock()
	level := slog.LevelDebug
	if changed {
		level = slog.LevelWarn
	}
	for i, err := range errs {
		if err != nil {
			log.Log(ctx, level, "readiness check failed", "dependency", rd.checks[i].Name, "err", redact.Error(err))
		}
	}
	if changed && len(failing) == 0 {
		log.InfoContext(ctx, "ready again")
	}
	return slices.Clip(failing)
}
