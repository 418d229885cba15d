package core_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

// FuzzImageRef checks that parsing and matching never panic, that an
// accepted reference is lexically clean (no `..`, `.` or empty segment, no
// escapes, no white space), that its normal form parses to itself, and
// that `*` never matches across a `/`.
func FuzzImageRef(f *testing.F) {
	for _, s := range []string{"nginx", "games/chess:1.0", "localhost:5000/a/b@" + sha,
		"index.docker.io/library/x", "file:///opt/games/x", "file:///opt/../x", "[::1]:1/x", "a//b", "ftp://x"} {
		f.Add(s, "games/*:*")
	}
	f.Add("reg.io/a/b/c", "reg.io/**/c")
	f.Add("file:///opt/g/x", "file:///opt/*/x")
	allowAll := core.MustParseImageAllow("**/**")
	f.Fuzz(func(t *testing.T, ref, pattern string) {
		r, perr := core.ParseImageRef(ref)
		if perr != nil {
			if core.CodeOf(perr) != core.CodeInvalidRequest {
				t.Fatalf("ParseImageRef(%q) error code %q", ref, core.CodeOf(perr))
			}
		} else {
			n := r.String()
			for _, bad := range []string{"//", "/../", "/./", "%", " ", "\\", "*", "?"} {
				if strings.Contains(strings.TrimPrefix(n, "file://"), bad) {
					t.Fatalf("ParseImageRef(%q) accepted %q containing %q", ref, n, bad)
				}
			}
			if strings.HasSuffix(n, "/..") || strings.HasSuffix(n, "/.") || strings.HasSuffix(n, "/") {
				t.Fatalf("ParseImageRef(%q) = %q ends in a dot segment or slash", ref, n)
			}
			again, err := core.ParseImageRef(n)
			if err != nil || again.String() != n {
				t.Fatalf("normal form %q of %q does not parse to itself: %q, %v", n, ref, again.String(), err)
			}
			if r.Scheme == "" && allowAll.Check(ref) != nil {
				t.Fatalf("**/** must allow %q", ref)
			}
		}
		allow, err := core.ParseImageAllow(pattern)
		if err != nil {
			if core.CodeOf(err) != core.CodeInvalidRequest {
				t.Fatalf("ParseImageAllow(%q) error code %q", pattern, core.CodeOf(err))
			}
			return
		}
		cerr := allow.Check(ref, core.FileScheme)
		if c := core.CodeOf(cerr); c != "" && c != core.CodeForbidden && c != core.CodeInvalidRequest {
			t.Fatalf("Check(%q) against %q: code %q", ref, pattern, c)
		}
		if (perr == nil) != (core.CodeOf(cerr) != core.CodeInvalidRequest) {
			t.Fatalf("Check(%q) = %v but ParseImageRef said %v", ref, cerr, perr)
		}
		// A pattern without "**" has a fixed number of segments: whatever it
		// admits has exactly that many.
		if cerr == nil && len(allow) == 1 && !strings.Contains(pattern, "**") && r.Scheme == core.FileScheme {
			want := strings.Count(strings.TrimPrefix(strings.Split(pattern, "@")[0], "file:///"), "/")
			if got := strings.Count(strings.TrimPrefix(r.String(), "file:///"), "/"); got != want {
				t.Fatalf("pattern %q admitted %q with %d slashes, want %d", pattern, ref, got, want)
			}
		}
	})
}

// FuzzValidateEnv checks that the env validator never panics, answers
// only invalid_request, and never admits a denied, reserved or malformed
// name.
func FuzzValidateEnv(f *testing.F) {
	for _, s := range []string{"MODE", "LD_PRELOAD", "PORT", "RTMANAGER_X", "1A", "a", "PYTHONPATH", "X\x00"} {
		f.Add(s, "v", "")
	}
	f.Add("SECRET", "x", "SEC*")
	f.Fuzz(func(t *testing.T, name, value, denyList string) {
		deny, err := core.ParseEnvDeny(denyList)
		if err != nil {
			if core.CodeOf(err) != core.CodeInvalidRequest {
				t.Fatalf("ParseEnvDeny(%q) code %q", denyList, core.CodeOf(err))
			}
			return
		}
		err = core.ValidateEnv(map[string]string{name: value}, deny)
		if err != nil {
			if core.CodeOf(err) != core.CodeInvalidRequest {
				t.Fatalf("ValidateEnv code %q: %v", core.CodeOf(err), err)
			}
			return
		}
		if name == "" || name == "PORT" || name == "GAME_ID" || strings.HasPrefix(name, "RTMANAGER_") ||
			deny.Denies(name) != "" || strings.IndexByte(value, 0) >= 0 || name[0] >= '0' && name[0] <= '9' ||
			strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Fatalf("ValidateEnv admitted %q=%q with deny %q", name, value, denyList)
		}
		if strings.TrimSpace(denyList) == "" && (strings.HasPrefix(name, "LD_") || strings.HasPrefix(name, "PYTHON") || name == "BASH_ENV") {
			t.Fatalf("the default deny list admitted %q", name)
		}
	})
}
