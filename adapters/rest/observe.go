package rest

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// Limits of GET /runtimes/{game_id}/logs.
const (
	// DefaultLogTail is how many last lines a logs request without tail
	// gets.
	DefaultLogTail = 200
	// DefaultMaxFollowers caps concurrent follow streams when
	// Config.MaxFollowers is zero; one more is service_unavailable.
	DefaultMaxFollowers = 256
)

// Stats is the JSON representation of a resource sample; a figure the
// driver cannot measure is null.
type Stats struct {
	GameID           string    `json:"game_id"`
	ContainerID      string    `json:"container_id"`
	At               time.Time `json:"at"`
	CPUPercent       *float64  `json:"cpu_percent"`
	MemoryBytes      *int64    `json:"memory_bytes"`
	MemoryLimitBytes *int64    `json:"memory_limit_bytes"`
	Pids             *int64    `json:"pids"`
	NetRxBytes       *int64    `json:"net_rx_bytes"`
	NetTxBytes       *int64    `json:"net_tx_bytes"`
}

// StatsOf returns the JSON representation of a sample.
func StatsOf(s lifecycle.StatsSample) Stats {
	return Stats{GameID: s.Game, ContainerID: s.ContainerID, At: s.At.UTC(), CPUPercent: s.CPUPercent,
		MemoryBytes: s.MemoryBytes, MemoryLimitBytes: s.MemoryLimitBytes, Pids: s.Pids,
		NetRxBytes: s.NetRxBytes, NetTxBytes: s.NetTxBytes}
}

// parseLogsQuery parses tail (0..ports.MaxTail or "all", default
// DefaultLogTail), since (RFC 3339), follow and timestamps (true|false).
func parseLogsQuery(raw string) (ports.LogOptions, error) {
	o := ports.LogOptions{Tail: DefaultLogTail}
	vals, err := queryValues(raw, "tail", "since", "follow", "timestamps")
	if err != nil {
		return o, err
	}
	if s, ok := vals["tail"]; ok {
		n, err := strconv.Atoi(s)
		switch {
		case s == "all":
			o.Tail = ports.TailAll
		case err != nil || n < 0 || n > ports.MaxTail:
			return o, invalid("tail %q must be \"all\" or an integer from 0 to %d", truncate(s, 80), ports.MaxTail)
		default:
			o.Tail = n
		}
	}
	if s, ok := vals["since"]; ok {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return o, invalid("since %q is not an RFC 3339 time", truncate(s, 80))
		}
		o.Since = t
	}
	for _, b := range []struct {
		name string
		v    *bool
	}{{"follow", &o.Follow}, {"timestamps", &o.Timestamps}} {
		s, ok := vals[b.name]
		if !ok {
			continue
		}
		switch s {
		case "true":
			*b.v = true
		case "false":
		default:
			return o, invalid("%s %q must be true or false", b.name, truncate(s, 80))
		}
	}
	return o, nil
}

// streamWriter writes a text/plain answer that begins with the first
// write (or commit), so errors before it can still be JSON; with flush it
// flushes every write, for follow streams.
type streamWriter struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	flush     bool
	committed bool
}

func (s *streamWriter) commit() {
	if s.committed {
		return
	}
	s.committed = true
	h := s.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
	if s.flush {
		_ = s.rc.Flush()
	}
}

// Write implements io.Writer.
func (s *streamWriter) Write(p []byte) (int, error) {
	s.commit()
	n, err := s.w.Write(p)
	if err == nil && s.flush {
		err = s.rc.Flush()
	}
	return n, err
}

// logs answers the output of the game's current container as text/plain;
// follow=true streams it, flushing each write, until the engine exits, the
// client goes or the server shuts down.
func (s *server) logs(w http.ResponseWriter, r *http.Request) {
	opts, err := parseLogsQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), flush: opts.Follow}
	req := lifecycle.LogRequest{Game: gameID(r), Options: opts, Out: sw}
	if opts.Follow {
		select {
		case s.followers <- struct{}{}:
			defer func() { <-s.followers }()
		default:
			w.Header().Set("Retry-After", "5")
			s.writeError(w, r, core.Errorf(core.CodeServiceUnavailable,
				"%d log followers are streaming already; try again later", cap(s.followers)))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(s.streams, cancel)
		defer stop()
		req.Ready = sw.commit
	}
	if err := s.svc.Logs(ctx, req); err != nil {
		if !sw.committed {
			s.writeError(w, r, err)
			return
		}
		s.log.WarnContext(ctx, "logs stream ended early", "game_id", req.Game, "err", err)
		return
	}
	sw.commit()
}

// stats answers one resource sample of the game's running container.
func (s *server) stats(w http.ResponseWriter, r *http.Request) {
	if _, err := queryValues(r.URL.RawQuery); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.svc.Stats(r.Context(), gameID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, StatsOf(st))
}
