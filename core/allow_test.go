package core_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

func TestImageAllow(t *testing.T) {
	allow, err := core.ParseImageAllow(" games/*:*, engine-?:stable ,,registry.local/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(allow) != 3 {
		t.Fatalf("parsed %d patterns, want 3: %q", len(allow), allow)
	}
	tests := []struct {
		ref  string
		want bool
	}{
		{"games/chess:1.0", true},
		{"games/deep/chess:1.0", true},
		{"games/chess", false},
		{"engine-a:stable", true},
		{"engine-ab:stable", false},
		{"registry.local/x/y@sha256:00", true},
		{"evil/registry.local/x", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := allow.Allows(tt.ref); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v", tt.ref, got, tt.want)
		}
		if err := allow.Check(tt.ref); (err == nil) != tt.want || (err != nil && core.CodeOf(err) != core.CodeForbidden) {
			t.Errorf("Check(%q) = %v", tt.ref, err)
		}
	}
	var empty core.ImageAllow
	if !empty.Allows("anything:at/all") {
		t.Error("an empty allow-list must allow everything")
	}
	if _, err := core.ParseImageAllow("a b"); err == nil {
		t.Error("a pattern with a space must be rejected")
	}
	// A pathological pattern stays fast: the matcher never recurses.
	long := strings.Repeat("a", 5000)
	if (core.ImageAllow{strings.Repeat("*a", 50) + "b"}).Allows(long) {
		t.Error("pattern ending in b must not match")
	}
}
