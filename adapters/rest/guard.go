package rest

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/internal/hosts"
)

// Limits of the HTTP server NewHTTPServer builds. There is deliberately
// no ReadTimeout or WriteTimeout: both would cut long-lived GETs (a logs
// follow stream, a slow page of a large list). Slow clients are bounded
// instead by ReadHeaderTimeout for the request line and headers, by
// Config.BodyTimeout and Config.MaxBodyBytes for a POST body, and by
// IdleTimeout between requests on a kept-alive connection.
const (
	// ReadHeaderTimeout bounds reading a request's line and headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes a kept-alive connection idle this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps a request's line and headers.
	MaxHeaderBytes = 64 << 10
	// DefaultBodyTimeout bounds reading one POST body when
	// Config.BodyTimeout is zero.
	DefaultBodyTimeout = 30 * time.Second
)

// NewHTTPServer returns an http.Server for handler with the limits above.
// The caller sets BaseContext and ErrorLog if it needs them.
func NewHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes}
}

// guardHost answers forbidden unless the request's Host is a loopback name
// or address or an allowed host (SPEC §11): a page of a hostile site whose
// name was rebound to 127.0.0.1 carries its own name in Host, so it cannot
// reach the API even when no token is configured.
func (s *server) guardHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowed.Permits(r.Host) {
			s.writeError(w, r, core.Errorf(core.CodeForbidden,
				"Host %q is not served: use a loopback address or a name listed in RTMANAGER_ALLOWED_HOSTS", truncate(r.Host, 80)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guardAdmin refuses X-Admin-User unless the caller is trusted to name an
// operator (SPEC §11): with a token configured the request already proved
// it (authenticate runs first); without one only a loopback peer may. The
// header is refused rather than ignored so a caller is never recorded as
// someone else without noticing.
func (s *server) guardAdmin(next http.Handler) http.Handler {
	if s.auth {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header[HeaderAdminUser]; ok && !hosts.IsLoopbackAddr(r.RemoteAddr) {
			s.writeError(w, r, core.Errorf(core.CodeForbidden,
				"%s is honoured only with a valid bearer token (RTMANAGER_API_TOKEN) or from a loopback peer", HeaderAdminUser))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireJSON guards POST bodies: the Content-Type must be
// application/json (a UTF-8 charset parameter is allowed), else 415 with
// invalid_request (SPEC §2). A cross-site HTML form or a "simple"
// cross-origin fetch can send only text/plain, form-urlencoded or
// multipart bodies, so it never reaches a handler. The body must then
// arrive within the body timeout.
func (s *server) requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if msg := jsonContentType(r.Header.Values("Content-Type")); msg != "" {
			s.writeCode(w, r, http.StatusUnsupportedMediaType, core.CodeInvalidRequest, msg)
			return
		}
		// net/http lifts the deadline when the body has been read to its
		// end (it starts its hang-up watch then), so the operation behind
		// the body is not cut short. A body not read to its end is
		// discarded under the deadline, or its connection closed.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyTimeout))
		next.ServeHTTP(w, r)
	})
}

// jsonContentType returns why the Content-Type values do not name JSON,
// or "" when they do.
func jsonContentType(values []string) string {
	const want = "; send Content-Type: application/json"
	switch len(values) {
	case 0:
		return "a POST needs Content-Type: application/json"
	case 1:
	default:
		return "Content-Type is given more than once" + want
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return "Content-Type " + quote(truncate(values[0], 80)) + " is not supported" + want
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "charset " + quote(truncate(cs, 40)) + " is not supported; JSON bodies are UTF-8"
	}
	return ""
}
