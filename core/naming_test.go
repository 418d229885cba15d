package core_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

func TestContainerName(t *testing.T) {
	long := strings.Repeat("a1", 32) // 64 chars, the longest game id
	for _, tc := range []struct {
		name, scope, game string
		gen               int64
		want              string
	}{
		{"default scope keeps the v1 name", core.DefaultScope, "g1", 3, "rtm-g1-3"},
		{"empty scope is default", "", "g1", 3, "rtm-g1-3"},
		{"scope is part of the name", "blue", "g1", 3, "rtm-blue-g1-3"},
		{"long id in default scope fits", core.DefaultScope, long, 9999999, "rtm-" + long + "-9999999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := core.ContainerName(tc.scope, tc.game, tc.gen); got != tc.want {
				t.Errorf("ContainerName(%q, %q, %d) = %q, want %q", tc.scope, tc.game, tc.gen, got, tc.want)
			}
		})
	}
}

// TestContainerNameBounded: every name is a containerd identifier of at
// most 76 bytes, and distinct (scope, game, generation) give distinct names,
// for the longest scope and game ids and the largest generations.
func TestContainerNameBounded(t *testing.T) {
	maxScope := strings.Repeat("s", core.MaxScopeLen)
	long := strings.Repeat("x", core.MaxGameIDLen)
	games := []string{"g", "a-b", "a--b", "a_", "a-_-b", long, long[:63] + "y", long[:63] + "-", "1" + long[1:],
		strings.Repeat("a-", 32), strings.Repeat("a_", 32)}
	seen := map[string]string{}
	for _, scope := range []string{core.DefaultScope, "s", maxScope} {
		for _, game := range games {
			for _, gen := range []int64{1, 12345678, 1<<63 - 1} {
				name := core.ContainerName(scope, game, gen)
				key := fmt.Sprintf("%s/%s/%d", scope, game, gen)
				if len(name) > core.MaxContainerNameLen || !identifier(name) {
					t.Errorf("ContainerName(%q, %q, %d) = %q (%d bytes): not a containerd identifier of <= 76 bytes", scope, game, gen, name, len(name))
				}
				if prev, dup := seen[name]; dup {
					t.Errorf("ContainerName(%q, %q, %d) = %q, also the name of %s", scope, game, gen, name, prev)
				}
				seen[name] = key
				if scope != core.DefaultScope && !strings.HasPrefix(name, "rtm-"+scope+"-") {
					t.Errorf("ContainerName(%q, ...) = %q lacks the scope", scope, name)
				}
			}
		}
	}
}

// identifier is containerd's grammar: [A-Za-z0-9]+ joined by single [._-].
func identifier(s string) bool {
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
		if part == "" {
			return false
		}
	}
	return s != "" && !strings.ContainsAny(s[:1]+s[len(s)-1:], "._-") &&
		!strings.Contains(s, "--") && !strings.Contains(s, "-_") && !strings.Contains(s, "_-") &&
		!strings.Contains(s, "__") && !strings.Contains(s, ".-") && !strings.Contains(s, "-.") &&
		!strings.Contains(s, "._") && !strings.Contains(s, "_.") && !strings.Contains(s, "..")
}

func TestValidateScope(t *testing.T) {
	for _, ok := range []string{"default", "a", "blue2", strings.Repeat("z", core.MaxScopeLen)} {
		if err := core.ValidateScope(ok); err != nil {
			t.Errorf("ValidateScope(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a-b", "A", "a.b", "a_b", "ü", strings.Repeat("z", core.MaxScopeLen+1)} {
		if err := core.ValidateScope(bad); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("ValidateScope(%q) = %v, want invalid_request", bad, err)
		}
	}
}

// TestContainerNameHostileGame: ContainerName does not trust its game id;
// characters outside the identifier grammar are dropped, and a game id with
// none left still gets a valid, distinct, hash-suffixed name.
func TestContainerNameHostileGame(t *testing.T) {
	seen := map[string]string{}
	for _, game := range []string{"a:b", "a/b", "ÜÜ", "::", "-", "_a", "a b", "a:c"} {
		name := core.ContainerName("blue", game, 1)
		if len(name) > core.MaxContainerNameLen || !identifier(name) || !strings.HasPrefix(name, "rtm-blue-") {
			t.Errorf("ContainerName(blue, %q, 1) = %q: not a scoped containerd identifier of <= 76 bytes", game, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("ContainerName(blue, %q, 1) = %q, also the name of %q", game, name, prev)
		}
		seen[name] = game
	}
	if name := core.ContainerName("blue", "ÜÜ", 1); !strings.HasPrefix(name, "rtm-blue-g.") {
		t.Errorf("a game id without identifier characters = %q, want the placeholder prefix g", name)
	}
	if name := core.ContainerName("", "a:b", 7); !strings.HasPrefix(name, "rtm-ab.") || !strings.HasSuffix(name, "-7") {
		t.Errorf("ContainerName(a:b) = %q, want rtm-ab.<hash>-7", name)
	}
}
