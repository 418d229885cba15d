package pluginhost

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/galaxy-game/rtmanager/plugins/sdk"
)

// maxSocketDir bounds the length of Config.UnixSocketDir: a unix socket path
// holds at most 107 bytes and go-plugin appends "/plugin" and ~10 digits.
const maxSocketDir = 90

// envAllow names the variables of the host's environment a plugin inherits;
// every other variable (RTMANAGER_API_TOKEN, RTMANAGER_DATABASE_URL, cloud
// credentials, ...) stays in the host. A name ending in "*" is a prefix.
// go-plugin adds its own variables (the magic cookie, PLUGIN_PROTOCOL_VERSIONS,
// PLUGIN_CLIENT_CERT for AutoMTLS, PLUGIN_MIN_PORT/MAX_PORT) after these, and
// the host adds PLUGIN_UNIX_SOCKET_DIR and sdk.EnvStateDir.
// KUBERNETES_SERVICE_HOST/PORT (set by the kubelet in every pod) and
// KUBECONFIG locate a Kubernetes API server, not credentials: the Kubernetes
// driver plugin's in-cluster configuration reads the first two, its
// fallback the third (deploy/kubernetes runs it in a pod).
var envAllow = []string{"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "LANG", "LANGUAGE", "LC_*",
	"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG"}

// reservedEnvPrefix is the prefix of rtmanager's own configuration, secrets
// included: Config.Env may not pass it to a plugin.
const reservedEnvPrefix = "RTMANAGER_"

// pluginEnv returns the environment of a plugin process: the allow-listed
// part of host, then extra (Config.Env), then what the host sets itself.
func pluginEnv(host, extra []string, stateDir, socketDir string) []string {
	env := make([]string, 0, len(envAllow)+len(extra)+2)
	for _, kv := range host {
		name, _, _ := strings.Cut(kv, "=")
		if allowed(name) {
			env = append(env, kv)
		}
	}
	env = append(env, extra...)
	if stateDir != "" {
		env = append(env, sdk.EnvStateDir+"="+stateDir)
	}
	return append(env, "PLUGIN_UNIX_SOCKET_DIR="+socketDir)
}

func allowed(name string) bool {
	for _, a := range envAllow {
		if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(name, p) || name == a {
			return true
		}
	}
	return false
}

// checkEnv refuses Config.Env entries that are not NAME=value or that name
// rtmanager's own (secret-bearing) configuration.
func checkEnv(env []string) error {
	for _, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return fmt.Errorf("pluginhost: Env entry %q is not NAME=value", kv)
		}
		if strings.HasPrefix(name, reservedEnvPrefix) || name == "PLUGIN_UNIX_SOCKET_DIR" {
			return fmt.Errorf("pluginhost: Env may not set %s (reserved for the host)", name)
		}
	}
	return nil
}

// privateDir creates dir (0700) if missing and makes sure it is a real
// directory owned by this process's user that nobody else can enter: the
// plugin's socket and the verified binary live there.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory (a symlink is refused)", dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is not owned by this user", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// copyVerified copies src into a new private directory under dir, hashing
// the bytes as they are written, and returns the copy's path once its
// SHA-256 equals want. The host executes only that copy: replacing src
// afterwards changes nothing that runs, and nobody but this user can
// replace the copy. The directory holds a .lock file, flocked through the
// returned file while the host lives, so another host's start-up leaves
// it alone. The caller removes the directory and closes the lock.
func copyVerified(src, dir string, want []byte) (path, copyDir string, lock *os.File, err error) {
	copyDir, err = os.MkdirTemp(dir, "verified-")
	if err != nil {
		return "", "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(copyDir)
			if lock != nil {
				lock.Close()
			}
		}
	}()
	lock, err = os.OpenFile(filepath.Join(copyDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", "", nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return "", "", lock, fmt.Errorf("lock %s: %w", copyDir, err)
	}
	path, err = copyHashed(src, copyDir, want)
	return path, copyDir, lock, err
}

// copyHashed copies src into dir and checks the SHA-256 of the bytes written.
func copyHashed(src, dir string, want []byte) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	path := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o500)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, sum), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	if got := sum.Sum(nil); !bytes.Equal(got, want) {
		return "", fmt.Errorf("refusing to run %s: its SHA-256 is %x, configured %x", src, got, want)
	}
	return path, nil
}

// errSocketDir explains a missing or unusable Config.UnixSocketDir.
var errSocketDir = errors.New("UnixSocketDir must name a private directory of rtmanager's (e.g. <data dir>/plugin-sockets) no longer than 90 bytes")
