package core

import (
	"strings"
	"unicode/utf8"
)

// Input limits. Values beyond them are invalid_request.
const (
	MaxGameIDLen   = 64
	MaxImageRefLen = 512
	MaxEnvVars     = 64
	MaxEnvKeyLen   = 128
	MaxEnvValueLen = 4096
)

// ReservedEnv lists the variables rtmanager sets itself; a job may not.
var ReservedEnv = []string{"GAME_ID", "PORT"}

// ValidateGameID checks id against 1–64 chars of [a-z0-9][a-z0-9_-]*.
func ValidateGameID(id string) error {
	if id == "" {
		return Errorf(CodeInvalidRequest, "game_id must not be empty")
	}
	if len(id) > MaxGameIDLen {
		return Errorf(CodeInvalidRequest, "game_id is %d chars long; at most %d are allowed", len(id), MaxGameIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return Errorf(CodeInvalidRequest, "game_id %q must match [a-z0-9][a-z0-9_-]*", id)
		}
	}
	return nil
}

// ValidateImageRef checks that ref is a non-empty, printable reference
// without white space, of at most MaxImageRefLen bytes.
func ValidateImageRef(ref string) error {
	if ref == "" {
		return Errorf(CodeInvalidRequest, "image_ref must not be empty")
	}
	if len(ref) > MaxImageRefLen {
		return Errorf(CodeInvalidRequest, "image_ref is %d bytes long; at most %d are allowed", len(ref), MaxImageRefLen)
	}
	if !utf8.ValidString(ref) || strings.IndexFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return Errorf(CodeInvalidRequest, "image_ref %q must be printable and contain no white space", ref)
	}
	return nil
}

// ValidateEnv checks a job's environment: at most MaxEnvVars entries, names
// of [A-Za-z_][A-Za-z0-9_]*, values without NUL, and none of ReservedEnv.
func ValidateEnv(env map[string]string) error {
	if len(env) > MaxEnvVars {
		return Errorf(CodeInvalidRequest, "env has %d variables; at most %d are allowed", len(env), MaxEnvVars)
	}
	for k, v := range env {
		if !envName(k) {
			return Errorf(CodeInvalidRequest, "env name %q must match [A-Za-z_][A-Za-z0-9_]* and be at most %d chars", k, MaxEnvKeyLen)
		}
		for _, r := range ReservedEnv {
			if k == r {
				return Errorf(CodeInvalidRequest, "env name %q is set by rtmanager and may not be given", k)
			}
		}
		if len(v) > MaxEnvValueLen || strings.IndexByte(v, 0) >= 0 {
			return Errorf(CodeInvalidRequest, "env %q value must be at most %d bytes without NUL", k, MaxEnvValueLen)
		}
	}
	return nil
}

func envName(k string) bool {
	if k == "" || len(k) > MaxEnvKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
