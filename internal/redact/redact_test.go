package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/internal/redact"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://rtm:s3cret@db:5432/rtm?sslmode=require", "postgres://rtm:***@db:5432/rtm?sslmode=require"},
		{"postgresql://rtm:p%40ss@db/rtm", "postgresql://rtm:***@db/rtm"},
		{"redis://:s3cret@127.0.0.1:6380/0", "redis://:***@127.0.0.1:6380/0"},
		{"rediss://default:s3cret@cache:6380", "rediss://default:***@cache:6380"},
		{"postgres://rtm@db/rtm?password=s3cret&sslmode=disable", "postgres://rtm@db/rtm?password=***&sslmode=disable"},
		{"http://collector:4317/v1?token=s3cret", "http://collector:4317/v1?token=***"},
		// Malformed: the bad port makes url.Parse fail; the pattern still masks.
		{"postgres://rtm:s3cret@db:notaport/rtm", "postgres://rtm:***@db:notaport/rtm"},
		{"redis://:s3c@ret@h:x", "redis://:***@h:x"},
		// Nothing secret: unchanged, byte for byte.
		{"postgres://rtm@db/rtm?sslmode=disable", "postgres://rtm@db/rtm?sslmode=disable"},
		{"unix:///var/run/docker.sock", "unix:///var/run/docker.sock"},
		{"sqlite:///var/lib/rtm/rtm.db?_pragma=busy_timeout(5000)", "sqlite:///var/lib/rtm/rtm.db?_pragma=busy_timeout(5000)"},
		{"embedded", "embedded"},
	}
	for _, tt := range tests {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	in := `open "postgres://rtm:s3cret@db/rtm": parse "redis://:hunter2@h:bad": invalid port; dsn host=db password=s3cret user=rtm`
	got := redact.String(in)
	for _, secret := range []string{"s3cret", "hunter2"} {
		if strings.Contains(got, secret) {
			t.Errorf("String left %q in %q", secret, got)
		}
	}
	if !strings.Contains(got, "postgres://rtm:***@db/rtm") || !strings.Contains(got, "user=rtm") {
		t.Errorf("String = %q: lost the non-secret parts", got)
	}
	if plain := "dial tcp 127.0.0.1:5432: connect: connection refused"; redact.String(plain) != plain {
		t.Errorf("String changed %q", plain)
	}
}

func TestError(t *testing.T) {
	base := fmt.Errorf("connect postgres://rtm:s3cret@db/rtm: %w", fs.ErrNotExist)
	err := redact.Error(base)
	if strings.Contains(err.Error(), "s3cret") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Error = %q (Is ErrNotExist: %v)", err, errors.Is(err, fs.ErrNotExist))
	}
	if clean := errors.New("plain"); redact.Error(clean) != clean || redact.Error(nil) != nil {
		t.Error("a clean or nil error must come back unchanged")
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redact.Handler(redact.Handler(slog.NewJSONHandler(&buf, nil))))
	log = log.With("db", "postgres://rtm:s1@db/rtm")
	log.WithGroup("g").Info("connect redis://:s2@h:6379 failed",
		"err", errors.New("dial redis://u:s3@h"), "addr", stringer("http://u:s4@h"),
		slog.Group("inner", "url", "postgres://x:s5@h/db?password=s6"), "n", 3)
	out := buf.String()
	for _, s := range []string{"s1@", "s2@", "s3@", "s4@", "s5@", "s6"} {
		if strings.Contains(out, s) {
			t.Errorf("log line leaks %q: %s", s, out)
		}
	}
	if !strings.Contains(out, `"n":3`) || !strings.Contains(out, "postgres://rtm:***@db/rtm") {
		t.Errorf("log line lost attributes: %s", out)
	}
}

func FuzzString(f *testing.F) {
	f.Add("postgres://rtm:s3cret@db/rtm", "s3cret")
	f.Add("redis://:pw@h:1", "pw")
	f.Fuzz(func(t *testing.T, prefix, secret string) {
		if len(secret) < 4 || strings.ContainsAny(secret, " \t\n\r\"'<>`/@%?#:") || !isPrintable(secret) || strings.Contains(prefix, secret) {
			return
		}
		s := "x postgres://user:" + secret + "@host:" + prefix + "/db y"
		if got := redact.String(s); strings.Contains(got, ":"+secret+"@") {
			t.Errorf("String(%q) = %q leaks the password", s, got)
		}
	})
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}
