package registryauth

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLookup: every credential form, picked by normalised host.
func TestLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	b64 := base64.StdEncoding.EncodeToString([]byte("hubuser:hub:pass"))
	write(t, path, `{"auths": {
		"https://index.docker.io/v1/": {"auth": "`+b64+`"},
		"Registry.Example.com": {"username": "u", "password": "p"},
		"http://127.0.0.1:5000": {"identitytoken": "tok"}
	}, "credsStore": "ignored"}`)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref  string
		want Credentials
		ok   bool
	}{
		{"engine:1", Credentials{Username: "hubuser", Password: "hub:pass"}, true},
		{"docker.io/org/engine:1", Credentials{Username: "hubuser", Password: "hub:pass"}, true},
		{"index.docker.io/library/engine", Credentials{Username: "hubuser", Password: "hub:pass"}, true},
		{"registry.example.com/games/engine:2", Credentials{Username: "u", Password: "p"}, true},
		{"127.0.0.1:5000/engine@sha256:" + strings.Repeat("a", 64), Credentials{IdentityToken: "tok"}, true},
		{"other.example.com/engine:1", Credentials{}, false},
	} {
		got, ok, err := f.ForRef(c.ref)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("ForRef(%s) = %+v, %v, %v; want %+v, %v", c.ref, got, ok, err, c.want, c.ok)
		}
	}
	if s := (Credentials{Password: "secret"}).String(); strings.Contains(s, "secret") {
		t.Errorf("String() shows the password: %s", s)
	}
}

// TestRereadAndErrors: an edited file is read again; a broken one is an
// error naming the file and never its content; a nil File has nothing.
func TestRereadAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	write(t, path, `{"auths": {"r.example.com": {"username": "u", "password": "old"}}}`)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, `{"auths": {"r.example.com": {"username": "u", "password": "new"}}}`)
	later := time.Now().Add(time.Second)
	os.Chtimes(path, later, later)
	if c, _, err := f.Lookup("r.example.com"); err != nil || c.Password != "new" {
		t.Errorf("after the edit: %+v, %v; want password new", c, err)
	}
	for name, body := range map[string]string{
		"syntax":   `{"auths": {"r.example.com": {"password": "hunter2"`,
		"type":     `{"auths": ["hunter2"]}`,
		"base64":   `{"auths": {"r": {"auth": "hunter2!"}}}`,
		"no-colon": `{"auths": {"r": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("hunter2")) + `"}}}`,
		"empty":    `{"auths": {"r": {"password": "hunter2"}}}`,
	} {
		write(t, path, body)
		later = later.Add(time.Second)
		os.Chtimes(path, later, later)
		_, _, err := f.Lookup("r")
		if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: err = %v, want one naming the file without the secret", name, err)
		}
		if _, err := Open(path); err == nil {
			t.Errorf("%s: Open accepted a broken file", name)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	var none *File
	if _, ok, err := none.Lookup("docker.io"); ok || err != nil {
		t.Errorf("nil File: %v, %v", ok, err)
	}
}
