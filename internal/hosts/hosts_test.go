package hosts_test

import (
	"testing"

	"github.com/galaxy-game/rtmanager/internal/hosts"
)

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3": true, "localhost:1": true, "LOCALHOST.": true,
		"api.localhost:8080": true, "[::1]:8080": true, "::1": true, "[::ffff:127.0.0.1]:80": true,
		"0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.5:8080": false, "evil.example:8080": false,
		"localhost.evil.example": false, "127.0.0.1.nip.io": false, "0x7f000001": false, "": false,
		"[fe80::1%lo]:80": false, "localhostx": false,
	} {
		if got := hosts.IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestAllowed(t *testing.T) {
	a, err := hosts.ParseAllowed(" rtm.games.svc , Api.Example.COM.:8443,10.0.0.5,[fd00::1]:8080,172.16.3.9/12,fd10::/16,")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.String(); got != "rtm.games.svc,api.example.com:8443,10.0.0.5,[fd00::1]:8080,172.16.0.0/12,fd10::/16" {
		t.Errorf("String = %q", got)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:9": true, "localhost": true, "[::1]:1": true,
		"rtm.games.svc": true, "RTM.games.svc.:8080": true, "api.example.com:8443": true,
		"api.example.com:8080": false, "api.example.com": false, "10.0.0.5:1234": true,
		"[fd00::1]:8080": true, "[fd00::1]:9090": false, "evil.example:8080": false,
		"rtm.games.svc.evil.example": false, "": false, "0.0.0.0:8080": false,
		"172.20.1.2:9090": true, "172.32.0.1:9090": false, "[fd10::7]:80": true, "[fd11::7]:80": false,
		"172.20.1.2.nip.io": false,
	} {
		if got := a.Permits(host); got != want {
			t.Errorf("Permits(%q) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"http://x", "x/y", "*.example.com", "x:0", "10.0.0.0/33", "x:http", "a..b", "[::1"} {
		if _, err := hosts.ParseAllowed(bad); err == nil {
			t.Errorf("ParseAllowed(%q) succeeded", bad)
		}
	}
}
