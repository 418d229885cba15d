package core_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

func TestValidateImageRef(t *testing.T) {
	for _, tc := range []struct {
		name, ref string
		ok        bool
	}{
		{"short name", "nginx", true},
		{"single underscore in a component", "games/chess_engine:1", true},
		{"dash runs in a component", "games/a---b", true},
		{"uppercase digest algorithm", "nginx@SHA256:" + strings.Repeat("0", 64), false},
		{"algorithm starting with a digit", "nginx@1sha:" + strings.Repeat("0", 64), false},
		{"algorithm starting with a separator", "nginx@-sha:" + strings.Repeat("0", 64), false},
		{"algorithm with a separator", "nginx@sha+x:" + strings.Repeat("0", 64), true},
		{"algorithm longer than 32", "nginx@" + strings.Repeat("a", 33) + ":" + strings.Repeat("0", 64), false},
		{"empty algorithm", "nginx@:" + strings.Repeat("0", 64), false},
		{"sha256 with 32 hex digits", "nginx@sha256:" + strings.Repeat("0", 32), false},
		{"other algorithm with 32 hex digits", "nginx@sha512x:" + strings.Repeat("0", 32), true},
		{"hex longer than 128", "nginx@blake3:" + strings.Repeat("0", 129), false},
		{"star digest is only a pattern", "nginx@*", false},
		{"glob digest is only a pattern", "nginx@sha256:*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := core.ValidateImageRef(tc.ref)
			if tc.ok && err != nil {
				t.Fatalf("ValidateImageRef(%.60q) = %v, want nil", tc.ref, err)
			}
			if !tc.ok && core.CodeOf(err) != core.CodeInvalidRequest {
				t.Fatalf("ValidateImageRef(%.60q) = %v, want invalid_request", tc.ref, err)
			}
		})
	}
}

// TestOCIComponent checks the distribution component grammar on its own:
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. parseOCI filters characters before
// calling it, so characters outside the grammar only reach it here.
func TestOCIComponent(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "a1": true, "a.b": true, "a_b": true, "a__b": true, "a-b": true, "a---b": true, "a.b_c__d-e": true,
		"": false, "A": false, "a/b": false, "a:b": false, "a*": false, "aé": false,
		"_a": false, "a_": false, "a___b": false, "a..b": false, "a.-b": false, "-a": false, "a-": false,
	} {
		if got := core.OCIComponent(s); got != want {
			t.Errorf("ociComponent(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestImageRefErrorsBounded: a hostile reference is quoted in the error only
// up to 80 bytes, so a 4 KiB reference cannot flood a log line or a reply.
func TestImageRefErrorsBounded(t *testing.T) {
	long := strings.Repeat("a", 200)
	for _, ref := range []string{
		"games/" + long + "A",               // bad character in a long segment
		"games/" + long + "_",               // component grammar error in a long segment
		"games/" + long + "?",               // glob character in a reference
		"file:///opt/" + long + "%2e",       // bad file character
		"x" + long + ".io:99999999/games/a", // bad port on a long host
	} {
		err := core.ValidateImageRef(ref)
		if core.CodeOf(err) != core.CodeInvalidRequest {
			t.Fatalf("ValidateImageRef(%.60q) = %v, want invalid_request", ref, err)
		}
		if msg := err.Error(); strings.Contains(msg, long[:81]) || len(msg) > 400 {
			t.Errorf("error for a %d-byte ref quotes too much (%d bytes): %.120s", len(ref), len(msg), msg)
		}
	}
}

func TestImageAllowPatternsOnly(t *testing.T) {
	allow := mustAllow(t, "pinned.io/**@*, games/x@sha256:*")
	if got := allow[0].String(); got != "pinned.io/**@*" {
		t.Errorf("ImagePattern.String() = %q, want the configured text", got)
	}
	for ref, want := range map[string]core.Code{
		"pinned.io/a/b@" + sha:     "",
		"pinned.io/a/b:1":          core.CodeForbidden, // @* still requires a digest
		"docker.io/games/x@" + sha: "",
		"games/x:1":                core.CodeForbidden,
	} {
		if got := core.CodeOf(allow.Check(ref)); got != want {
			t.Errorf("Check(%.50q) = %q, want %q", ref, got, want)
		}
	}
}

func TestMustParseImageAllowPanics(t *testing.T) {
	if got := core.MustParseImageAllow("games/*, nginx"); len(got) != 2 {
		t.Fatalf("MustParseImageAllow = %v, want two patterns", got)
	}
	defer func() {
		err, _ := recover().(error)
		if core.CodeOf(err) != core.CodeInvalidRequest {
			t.Fatalf("MustParseImageAllow on a bad pattern panicked with %v, want an invalid_request error", err)
		}
	}()
	core.MustParseImageAllow("Games/*")
	t.Fatal("MustParseImageAllow accepted a malformed pattern")
}
