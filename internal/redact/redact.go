// Package redact removes secrets from text rtmanager prints: the password
// of a URL's user info (postgres://user:pw@…, redis://:pw@…, any scheme),
// secret-named query parameters (password, sslpassword, token, …) and
// key=value passwords of connection strings. Every log line goes through
// Handler and every error that may quote a configured URL through String,
// so one rule decides what is a secret.
package redact

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces every secret.
const Mask = "***"

// secretParams are query parameter and key=value names whose values are
// secrets (compared in lower case).
var secretParams = map[string]bool{
	"password": true, "passwd": true, "pass": true, "pwd": true, "sslpassword": true,
	"secret": true, "token": true, "access_token": true, "auth": true, "api_key": true, "apikey": true,
}

var (
	// urlPattern finds URLs in free text: a scheme, "://" and everything
	// up to white space or a quote.
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)
	// userinfoPattern is the fallback for text that does not parse as a
	// URL: "://user:secret@" keeps the user and masks the rest.
	userinfoPattern = regexp.MustCompile(`(://[^/\s:@]*):[^\s/]*@`)
	// kvPattern finds key=value secrets of connection strings
	// (password=… in a libpq DSN).
	kvPattern = regexp.MustCompile(`(?i)\b(password|passwd|pwd|sslpassword|secret|token)=('[^']*'|[^\s&]*)`)
)

// URL returns raw with its secrets masked: the user info's password, and
// the values of secret-named query parameters. Text that does not parse as
// a URL is masked by pattern instead, so a malformed URL is never printed
// with its password.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return fallback(raw)
	}
	changed := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Mask)
		changed = true
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return fallback(raw)
		}
		for k, vs := range q {
			if secretParams[strings.ToLower(k)] {
				for i := range vs {
					vs[i] = Mask
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	out := raw
	if changed {
		// url.String escapes the mask; keep it readable.
		out = strings.ReplaceAll(u.String(), url.QueryEscape(Mask), Mask)
	}
	// A URL nested in the path or query has user info of its own.
	return fallback(out)
}

func fallback(s string) string {
	if strings.Contains(s, "@") {
		s = userinfoPattern.ReplaceAllString(s, "${1}:"+Mask+"@")
	}
	if mayHoldPair(s) {
		s = kvPattern.ReplaceAllString(s, "${1}="+Mask)
	}
	return s
}

// String returns s with the secrets of every URL in it and of every
// key=value password masked. Text with neither is returned as is.
func String(s string) string {
	if strings.Contains(s, "://") {
		s = urlPattern.ReplaceAllStringFunc(s, URL)
	}
	if mayHoldPair(s) {
		s = kvPattern.ReplaceAllString(s, "${1}="+Mask)
	}
	return s
}

// mayHoldPair is a cheap test that s may hold a key=value secret, so the
// common log line skips the regular expression.
func mayHoldPair(s string) bool {
	if !strings.Contains(s, "=") {
		return false
	}
	l := strings.ToLower(s)
	return strings.Contains(l, "pass") || strings.Contains(l, "pwd") || strings.Contains(l, "secret") || strings.Contains(l, "token")
}

// Error returns err with a redacted message; errors.Is and errors.As still
// see err's chain. A nil or already clean error is returned unchanged.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := String(msg)
	if clean == msg {
		return err
	}
	return &redacted{err: err, msg: clean}
}

type redacted struct {
	err error
	msg string
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Handler wraps h so that the message and every string, error and
// Stringer attribute of each record (inside groups too) are redacted
// before h sees them. Wrapping a redacting handler again returns it as is.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{next: h}
}

type handler struct{ next slog.Handler }

var _ slog.Handler = handler{}

// Enabled implements slog.Handler.
func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = attr(a)
	}
	return handler{next: h.next.WithAttrs(clean)}
}

// WithGroup implements slog.Handler.
func (h handler) WithGroup(name string) slog.Handler { return handler{next: h.next.WithGroup(name)} }

// attr returns a with its value redacted.
func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindGroup:
		as := v.Group()
		clean := make([]any, len(as))
		for i, g := range as {
			clean[i] = attr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.Any(a.Key, Error(x))
		case interface{ String() string }:
			if s := x.String(); String(s) != s {
				return slog.String(a.Key, String(s))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
