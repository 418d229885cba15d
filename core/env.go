package core

import "strings"

// Env limits. A job's environment beyond them is invalid_request.
const (
	MaxEnvVars     = 64
	MaxEnvKeyLen   = 128
	MaxEnvValueLen = 4096
	// MaxEnvBytes bounds the sum of names and values: the size of the
	// stream field a start job may carry.
	MaxEnvBytes = 64 << 10
)

// ReservedEnv lists the variables rtmanager sets itself; a job may not.
// Every name starting with ReservedEnvPrefix is reserved as well.
var ReservedEnv = []string{"GAME_ID", "PORT"}

// ReservedEnvPrefix reserves rtmanager's own configuration namespace.
const ReservedEnvPrefix = "RTMANAGER_"

// DefaultEnvDeny is the default of RTMANAGER_ENV_DENY (SPEC §11): names
// that change how a shell, the dynamic loader or a language runtime
// behaves before the engine's own code runs.
const DefaultEnvDeny = "LD_*,BASH_ENV,ENV,PATH,IFS,NODE_OPTIONS,PYTHON*,PERL5*,RUBYOPT,JAVA_TOOL_OPTIONS"

// EnvDeny is the env deny list: globs (`*` any run, `?` one character)
// over variable names. A nil EnvDeny means the default list.
type EnvDeny []string

// ParseEnvDeny parses a comma-separated list of name globs. An empty list
// means DefaultEnvDeny: the deny list is a safety control and cannot be
// switched off by leaving it blank.
func ParseEnvDeny(s string) (EnvDeny, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultEnvDeny
	}
	out := EnvDeny{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !(isEnvChar(c, true) || c == '*' || c == '?') {
				return nil, Errorf(CodeInvalidRequest, "env deny pattern %.64q may hold only A-Z, 0-9, _, * and ?", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// defaultEnvDeny is DefaultEnvDeny parsed once.
var defaultEnvDeny, _ = ParseEnvDeny(DefaultEnvDeny)

// Denies returns the first pattern matching name, or "".
func (d EnvDeny) Denies(name string) string {
	if d == nil {
		d = defaultEnvDeny
	}
	for _, p := range d {
		if glob(p, name) {
			return p
		}
	}
	return ""
}

// ValidateEnv checks a job's environment (SPEC §11): at most MaxEnvVars
// entries and MaxEnvBytes in all, names of [A-Z_][A-Z0-9_]* up to
// MaxEnvKeyLen, values up to MaxEnvValueLen without NUL, no reserved name
// (GAME_ID, PORT, RTMANAGER_*) and no name deny matches. Every failure is
// invalid_request. It is the one env check: REST and the stream ingress
// both reach it through the start service.
func ValidateEnv(env map[string]string, deny EnvDeny) error {
	if len(env) > MaxEnvVars {
		return Errorf(CodeInvalidRequest, "env has %d variables; at most %d are allowed", len(env), MaxEnvVars)
	}
	total := 0
	for k, v := range env {
		total += len(k) + len(v)
		if !envName(k) {
			return Errorf(CodeInvalidRequest, "env name %.64q must match [A-Z_][A-Z0-9_]* and be at most %d chars", k, MaxEnvKeyLen)
		}
		if isReservedEnv(k) {
			return Errorf(CodeInvalidRequest, "env name %q is reserved: GAME_ID, PORT and %s* are set by rtmanager", k, ReservedEnvPrefix)
		}
		if p := deny.Denies(k); p != "" {
			return Errorf(CodeInvalidRequest, "env name %q is denied by RTMANAGER_ENV_DENY pattern %q", k, p)
		}
		if len(v) > MaxEnvValueLen || strings.IndexByte(v, 0) >= 0 {
			return Errorf(CodeInvalidRequest, "env %q value must be at most %d bytes without NUL", k, MaxEnvValueLen)
		}
	}
	if total > MaxEnvBytes {
		return Errorf(CodeInvalidRequest, "env holds %d bytes of names and values; at most %d are allowed", total, MaxEnvBytes)
	}
	return nil
}

func isReservedEnv(k string) bool {
	for _, r := range ReservedEnv {
		if k == r {
			return true
		}
	}
	return strings.HasPrefix(k, ReservedEnvPrefix)
}

func envName(k string) bool {
	if k == "" || len(k) > MaxEnvKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isEnvChar(k[i], i > 0) {
			return false
		}
	}
	return true
}

// isEnvChar reports whether c may appear in an env name; digits only when
// not first.
func isEnvChar(c byte, digitOK bool) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || digitOK && c >= '0' && c <= '9'
}
