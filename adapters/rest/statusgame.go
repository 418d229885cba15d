package rest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
	"github.com/galaxy-game/rtmanager/ports"
)

// Limits of the per-game status page.
const (
	// statusLogLines is how many last engine lines the page shows.
	statusLogLines = 100
	// statusLogBytes caps the log text the page holds.
	statusLogBytes = 256 << 10
	// statusOps is how many operations the page lists.
	statusOps = 20
	// statusDriverWait bounds the stats and logs calls of one page.
	statusDriverWait = 3 * time.Second
)

// pageSecurity sets the headers of every status page: no scripts, no
// external assets, no framing, no caching.
func pageSecurity(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")
}

// authenticatePage guards the status pages: a bearer token, or — what a
// browser can send — HTTP Basic with the token as the password (any user
// name). The token never travels in a URL. A missing or wrong credential
// is unauthorized with a Basic challenge, so browsers prompt for it.
func (s *server) authenticatePage(next http.Handler) http.Handler {
	if !s.auth {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var secret string
		if _, pw, ok := r.BasicAuth(); ok {
			secret = pw
		} else if scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
			secret = strings.TrimSpace(tok)
		}
		got := sha256.Sum256([]byte(secret))
		if secret == "" || subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="rtmanager status", charset="UTF-8"`)
			s.writeError(w, r, core.Errorf(core.CodeUnauthorized, "the status page needs the API token (as the HTTP Basic password, any user name)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cappedBuffer keeps at most max bytes and then refuses more, so a page
// never holds more than max of log text.
type cappedBuffer struct {
	b   strings.Builder
	max int
}

var errPageFull = errors.New("status page log buffer full")

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := c.max - c.b.Len()
	if len(p) > room {
		c.b.Write(p[:max(room, 0)])
		return room, errPageFull
	}
	return c.b.Write(p)
}

// gamePageData is what the per-game page shows.
type gamePageData struct {
	Rec       core.Record
	Ops       []core.OperationEntry
	Snap      *core.HealthSnapshot
	Stats     *Stats
	StatsNote string
	Logs      string
	LogsNote  string
	Now       time.Time
}

// statusGame serves the per-game status page: the record, the last
// operations, the health snapshot, a resource sample and the last engine
// lines. Stats and logs that the driver does not offer, or that fail, are
// noted in place; the page itself fails only when the record cannot be read.
func (s *server) statusGame(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := gameID(r)
	if err := core.ValidateGameID(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := s.store.Get(ctx, id)
	if err != nil {
		s.writeError(w, r, readError("load runtime", err, "game "+quote(id)+" has no runtime"))
		return
	}
	d := gamePageData{Rec: rec, Now: time.Now().UTC()}
	if d.Ops, err = s.store.ListOperations(ctx, id, statusOps); err != nil {
		s.writeError(w, r, readError("list operations", err, ""))
		return
	}
	if snap, err := s.store.GetSnapshot(ctx, id); err == nil {
		d.Snap = &snap
	} else if !errors.Is(err, ports.ErrNotFound) {
		s.writeError(w, r, readError("load health snapshot", err, ""))
		return
	}
	dctx, cancel := context.WithTimeout(ctx, statusDriverWait)
	defer cancel()
	if st, err := s.svc.Stats(dctx, id); err == nil {
		js := StatsOf(st)
		d.Stats = &js
	} else {
		d.StatsNote = core.MessageOf(err)
	}
	logs := &cappedBuffer{max: statusLogBytes}
	err = s.svc.Logs(dctx, lifecycle.LogRequest{Game: id, Options: ports.LogOptions{Tail: statusLogLines}, Out: logs})
	d.Logs = logs.b.String()
	switch {
	case err == nil:
	case core.CodeOf(err) == core.CodeInternal && logs.b.Len() >= statusLogBytes:
		d.LogsNote = "cut at 256 KiB"
	default:
		d.LogsNote = core.MessageOf(err)
	}
	pageSecurity(w.Header())
	if err := gamePage.Execute(w, d); err != nil {
		s.log.WarnContext(ctx, "render game status page", "err", err)
	}
}

// gamePageFuncs format figures for the page.
var gamePageFuncs = template.FuncMap{
	"when": func(v any) string {
		var t time.Time
		switch v := v.(type) {
		case time.Time:
			t = v
		case *time.Time:
			if v != nil {
				t = *v
			}
		}
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"bytes": func(p *int64) string {
		if p == nil {
			return "—"
		}
		return humanBytes(*p)
	},
	"num": func(p *int64) string {
		if p == nil {
			return "—"
		}
		return formatInt(*p)
	},
	"pct": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return formatPercent(*p)
	},
}
