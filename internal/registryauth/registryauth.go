// Package registryauth reads registry credentials from a Docker
// config.json (RTMANAGER_REGISTRY_AUTH) for the docker and containerd
// drivers. Credentials are picked by the registry host of an image
// reference, with Docker Hub's aliases normalised to docker.io, and the file
// is read again whenever its modification time or size changes, so edited
// credentials take effect on the next pull without a restart.
//
// Nothing here logs, and no error carries a credential: errors name the
// file and the JSON problem only.
package registryauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

// DockerHub is the normalised host of Docker Hub.
const DockerHub = "docker.io"

// dockerHubAliases are the names Docker Hub is known by in config files and
// references.
var dockerHubAliases = map[string]bool{
	"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true,
	"registry.hub.docker.com": true,
}

// Credentials are one registry's credentials. Either Username/Password or
// IdentityToken (an OAuth refresh token) is set.
type Credentials struct {
	Username      string
	Password      string
	IdentityToken string
}

// String hides the secrets, so a credential printed by mistake shows none.
func (c Credentials) String() string { return "registryauth.Credentials{…}" }

// File is a Docker config.json read on demand. The zero value and a nil
// *File have no credentials. It is safe for concurrent use.
type File struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	auths   map[string]Credentials
	err     error
}

// Open reads the config file at path once, so a broken file fails at
// start-up; later lookups re-read it when it changes. An empty path means
// no credentials: a nil *File.
func Open(path string) (*File, error) {
	if path == "" {
		return nil, nil
	}
	f := &File{path: path}
	if _, _, err := f.Lookup(DockerHub); err != nil {
		return nil, err
	}
	return f, nil
}

// Lookup returns the credentials for registry host (normalised first) and
// whether the file has any. A file that cannot be read or parsed is an
// error naming the file, never the credentials.
func (f *File) Lookup(host string) (Credentials, bool, error) {
	if f == nil || f.path == "" {
		return Credentials{}, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		return Credentials{}, false, fmt.Errorf("registry auth file %s: %w", f.path, err)
	}
	if f.auths == nil || f.err != nil || !st.ModTime().Equal(f.modTime) || st.Size() != f.size {
		f.modTime, f.size = st.ModTime(), st.Size()
		f.auths, f.err = parse(f.path)
	}
	if f.err != nil {
		return Credentials{}, false, f.err
	}
	c, ok := f.auths[NormalizeHost(host)]
	return c, ok, nil
}

// configFile is the part of config.json this package reads.
type configFile struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	} `json:"auths"`
}

func parse(path string) (map[string]Credentials, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry auth file %s: %w", path, err)
	}
	var cf configFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		// The JSON error names a position and a type, not the content.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("registry auth file %s: invalid JSON at byte %d", path, syn.Offset)
		}
		return nil, fmt.Errorf("registry auth file %s: not a Docker config.json", path)
	}
	auths := make(map[string]Credentials, len(cf.Auths))
	for key, a := range cf.Auths {
		c := Credentials{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("registry auth file %s: auths[%q].auth is not base64", path, key)
			}
			user, pass, ok := strings.Cut(string(dec), ":")
			if !ok {
				return nil, fmt.Errorf("registry auth file %s: auths[%q].auth is not base64 of user:password", path, key)
			}
			c.Username, c.Password = user, pass
		}
		if c.Username == "" && c.IdentityToken == "" {
			return nil, fmt.Errorf("registry auth file %s: auths[%q] has neither auth, username nor identitytoken", path, key)
		}
		auths[NormalizeHost(key)] = c
	}
	return auths, nil
}

// NormalizeHost returns the registry host a config key or a reference's
// domain names: the scheme and path of a URL key are dropped
// ("https://index.docker.io/v1/" → "docker.io"), the host is lower-cased,
// and Docker Hub's aliases become docker.io.
func NormalizeHost(key string) string {
	h := strings.TrimSpace(key)
	if strings.Contains(h, "://") {
		if u, err := url.Parse(h); err == nil {
			h = u.Host
		}
	}
	h, _, _ = strings.Cut(h, "/")
	h = strings.ToLower(h)
	if dockerHubAliases[h] {
		return DockerHub
	}
	return h
}

// HostOf returns the normalised registry host of an image reference
// ("engine:1" → docker.io, "127.0.0.1:5000/engine:1" → 127.0.0.1:5000).
func HostOf(ref string) (string, error) {
	r, err := core.ParseImageRef(ref)
	if err != nil {
		return "", err
	}
	return NormalizeHost(r.Host), nil
}

// ForRef returns the credentials for the registry of image reference ref.
func (f *File) ForRef(ref string) (Credentials, bool, error) {
	host, err := HostOf(ref)
	if err != nil {
		return Credentials{}, false, err
	}
	return f.Lookup(host)
}

// DockerHeader returns the X-Registry-Auth value the Docker Engine API
// takes for a pull from host (base64url JSON); empty when there are no
// credentials.
func (c Credentials) DockerHeader(host string) (string, error) {
	if c == (Credentials{}) {
		return "", nil
	}
	b, err := json.Marshal(struct {
		Username      string `json:"username,omitempty"`
		Password      string `json:"password,omitempty"`
		ServerAddress string `json:"serveraddress,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
	}{c.Username, c.Password, host, c.IdentityToken})
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}
