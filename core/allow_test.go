package core_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

const sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseImageRefNormalises(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.25", "docker.io/library/nginx:1.25"},
		{"docker.io/nginx", "docker.io/library/nginx:latest"},
		{"index.docker.io/nginx:1", "docker.io/library/nginx:1"},
		{"index.docker.io/library/nginx", "docker.io/library/nginx:latest"},
		{"games/chess:1.0", "docker.io/games/chess:1.0"},
		{"nginx@" + sha, "docker.io/library/nginx@" + sha},
		{"nginx:1@" + sha, "docker.io/library/nginx:1@" + sha},
		{"localhost/games/chess", "localhost/games/chess:latest"},
		{"localhost:5000/chess:v2", "localhost:5000/chess:v2"},
		{"registry.local:5000/a/b/c:x_y-z.1", "registry.local:5000/a/b/c:x_y-z.1"},
		{"my-org/game__engine.v2--x:1", "docker.io/my-org/game__engine.v2--x:1"},
		{"[::1]:5000/chess", "[::1]:5000/chess:latest"},
		{"file:///opt/games/engine", "file:///opt/games/engine"},
		{"file:///opt/games/engine-1.2_x", "file:///opt/games/engine-1.2_x"},
	}
	for _, tt := range tests {
		r, err := core.ParseImageRef(tt.ref)
		if err != nil {
			t.Errorf("ParseImageRef(%q) = %v", tt.ref, err)
			continue
		}
		if got := r.String(); got != tt.want {
			t.Errorf("ParseImageRef(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestParseImageRefRejectsHostile(t *testing.T) {
	hostile := []string{
		"", " nginx", "nginx ", "ngi\tnx", "nginx\n", "a\x00b", "\x7f", "\xff\xfe",
		strings.Repeat("a", core.MaxImageRefLen+1),
		strings.Repeat("a/", 130) + "a", // name over 255
		"Nginx", "games/Chess", "ｎginx", "gämes/chess", "registry.local/chess\u200b",
		"games//chess", "/games/chess", "games/chess/", "games/../chess", "games/./chess", "..", ".",
		"registry.local/../../etc/passwd",
		"nginx:", "nginx:-x", "nginx:" + strings.Repeat("t", 129), "nginx:a/b",
		"nginx@", "nginx@sha256:abc", "nginx@sha256:" + strings.Repeat("g", 64), "nginx@" + sha + "x",
		"nginx@md5", "Registry.Local/x", "-bad.host/x", "bad-.host/x", "host..x/y", "reg.local:/x", "reg.local:99999999/x",
		"reg.local:50a0/x", "[zz::1]/x", "[::1/x",
		"http://registry.local/x", "https://x/y", "ftp://x/y", "FILE:///bin/sh", "docker://nginx",
		"file://host/opt/x", "file://opt/x", "file:///", "file:///opt//x", "file:///opt/games/../../bin/bash",
		"file:///opt/games/./x", "file:///opt/games/x/", "file:///opt/%2e%2e/bin/bash", "file:///opt/x:1",
		"file:///opt/x@" + sha, "file:///opt/x\\y", "file:///opt/g*", "file:///opt/ü",
		"games/*", "games/**/x", "games/?", // glob characters are not reference characters
		"games/a..b", "games/...", "games/-a", "games/a-", "games/a.-b", "games/a___b", "games/_a", "games/a.",
	}
	for _, ref := range hostile {
		_, err := core.ParseImageRef(ref)
		if core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("ParseImageRef(%.60q) = %v, want invalid_request", ref, err)
		}
		if err := (core.ImageAllow{}).Check(ref, core.FileScheme); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("empty allow-list Check(%.60q) = %v, want invalid_request", ref, err)
		}
	}
}

func TestImageAllow(t *testing.T) {
	allow := mustAllow(t, " games/*:*, engine-?:stable ,,registry.local/**, localhost:*/solo,"+
		"nginx, file:///opt/games/*, pinned.io/**@sha256:*, **/any/thing:1")
	if len(allow) != 8 {
		t.Fatalf("parsed %d patterns, want 8", len(allow))
	}
	tests := []struct {
		ref  string
		want core.Code // "" allowed, forbidden or invalid_request
	}{
		{"games/chess:1.0", ""},
		{"docker.io/games/chess:1.0", ""},
		{"index.docker.io/games/chess", ""},
		{"games/chess@" + sha, ""},                   // `:*` admits the empty tag of a digest-only ref
		{"games/deep/chess:1.0", core.CodeForbidden}, // * stays within one segment
		{"gamesx/chess:1.0", core.CodeForbidden},
		{"evil.io/games/chess:1.0", core.CodeForbidden}, // host is part of the match
		{"engine-a:stable", ""},
		{"engine-ab:stable", core.CodeForbidden},
		{"engine-a:latest", core.CodeForbidden},
		{"registry.local/x/y@" + sha, ""},
		{"registry.local/x", ""},
		{"registry.local:5000/x", core.CodeForbidden}, // port is part of the host
		{"registry.localx/x", core.CodeForbidden},
		{"evil.io/registry.local/x", core.CodeForbidden},
		{"localhost:5000/solo:1", ""},
		{"localhost/solo:1", core.CodeForbidden},
		{"nginx", ""},
		{"docker.io/library/nginx:1.25", ""},
		{"index.docker.io/library/nginx@" + sha, ""},
		{"evil/nginx", core.CodeForbidden}, // library/ normalisation does not widen
		{"library/nginx", ""},
		{"file:///opt/games/chess", ""},
		{"file:///opt/games/deep/chess", core.CodeForbidden},
		{"file:///opt/games/../../bin/bash", core.CodeInvalidRequest},
		{"file:///opt/games/%2e%2e", core.CodeInvalidRequest},
		{"file:///opt/gamesX", core.CodeForbidden},
		{"opt/games/chess", core.CodeForbidden}, // a registry ref never matches a file pattern
		{"pinned.io/a/b@" + sha, ""},
		{"pinned.io/a/b:1", core.CodeForbidden}, // the pattern demands a digest
		{"x.io/a/any/thing:1", ""},
		{"x.io/any/thing:2", core.CodeForbidden},
		{"", core.CodeInvalidRequest},
		{"ftp://games/chess", core.CodeInvalidRequest},
	}
	for _, tt := range tests {
		if err := allow.Check(tt.ref, core.FileScheme); core.CodeOf(err) != tt.want {
			t.Errorf("Check(%.60q) = %v, want %q", tt.ref, err, tt.want)
		}
	}
	// A driver that does not own file:// (Docker, containerd) refuses
	// file references as malformed, allowed or not.
	for _, ref := range []string{"file:///opt/games/chess", "file:///bin/sh"} {
		if err := allow.Check(ref); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("Check(%q) without the file scheme = %v, want invalid_request", ref, err)
		}
		if err := (core.ImageAllow{}).Check(ref); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("empty allow-list Check(%q) without the file scheme = %v, want invalid_request", ref, err)
		}
	}
	var empty core.ImageAllow
	if err := empty.Check("anything.io/at/all:1"); err != nil {
		t.Errorf("an empty allow-list must allow every well-formed image: %v", err)
	}
	if err := mustAllow(t, "**").Check("nginx"); err != nil {
		t.Errorf("** must allow Docker Hub: %v", err)
	}
	if err := mustAllow(t, "**/**").Check("reg.io/a/b/c"); err != nil {
		t.Errorf("**/** must allow every host: %v", err)
	}
}

func TestParseImageAllowRejects(t *testing.T) {
	for _, p := range []string{"a b", "games/a**b", "games/../x", "games//x", "http://x/y", "Games/*", "file:///opt/../x", "x:"} {
		if _, err := core.ParseImageAllow(p); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("ParseImageAllow(%q) = %v, want invalid_request", p, err)
		}
	}
}

func TestImageAllowStaysFast(t *testing.T) {
	// Patterns and refs near the length limit must not blow up the matcher.
	pat := strings.Repeat("**/", 80) + "x"
	allow := mustAllow(t, pat)
	ref := "reg.io/" + strings.Repeat("a/", 120) + "b"
	if allow.Check(ref) == nil {
		t.Error("a ref not ending in x must not match")
	}
	star := mustAllow(t, "reg.io/"+strings.Repeat("*a", 100)+"b")
	if star.Check("reg.io/"+strings.Repeat("a", 240)) == nil {
		t.Error("pattern ending in b must not match")
	}
}

func mustAllow(tb testing.TB, s string) core.ImageAllow {
	tb.Helper()
	a, err := core.ParseImageAllow(s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
