package core

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// DefaultScope is the deployment scope of an instance that sets no
// RTMANAGER_SCOPE, and of containers that carry no scope label.
const DefaultScope = "default"

// Container name limits.
const (
	// MaxScopeLen bounds RTMANAGER_SCOPE so a scoped name of a 64-char game
	// id keeps a readable game prefix within MaxContainerNameLen.
	MaxScopeLen = 20
	// MaxContainerNameLen is containerd's limit on identifiers, the
	// strictest of the drivers.
	MaxContainerNameLen = 76
	// nameHashLen is the hex digits of SHA-256(game_id) a shortened name
	// carries (64 bits).
	nameHashLen = 16
)

// ValidateScope checks a deployment scope: 1–20 chars of [a-z0-9]. The
// scope is one token without separators, so `rtm-<scope>-<game_id>-<gen>`
// names of two scopes can never be equal.
func ValidateScope(scope string) error {
	if scope == "" || len(scope) > MaxScopeLen {
		return Errorf(CodeInvalidRequest, "scope must be 1-%d chars of [a-z0-9], got %d chars", MaxScopeLen, len(scope))
	}
	for i := 0; i < len(scope); i++ {
		if c := scope[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return Errorf(CodeInvalidRequest, "scope %q must be 1-%d chars of [a-z0-9]", scope, MaxScopeLen)
		}
	}
	return nil
}

// ContainerName returns the name of a game's container of one generation:
// rtm-<game_id>-<generation> in the default scope (or an empty one), and
// rtm-<scope>-<game_id>-<generation> in any other (SPEC §11).
//
// Every name is a valid containerd identifier of at most
// MaxContainerNameLen bytes. When the plain name is longer, or the game id
// holds runs of separators or ends with one (valid game ids, invalid
// identifiers), the game id part becomes a prefix of it, a dot and 16 hex
// digits of its SHA-256: rtm-<scope>-<prefix>.<hash>-<generation>. No game
// id or scope contains a dot, so a shortened name never equals a plain one,
// and two games share a shortened name only on a 64-bit hash collision.
func ContainerName(scope, game string, generation int64) string {
	head := "rtm-"
	if scope != "" && scope != DefaultScope {
		head += scope + "-"
	}
	tail := "-" + strconv.FormatInt(generation, 10)
	plain := head + game + tail
	if len(plain) <= MaxContainerNameLen && validIdentifier(plain) {
		return plain
	}
	sum := sha256.Sum256([]byte(game))
	tail = "." + hex.EncodeToString(sum[:])[:nameHashLen] + tail
	prefix := identifierPrefix(game, MaxContainerNameLen-len(head)-len(tail))
	if prefix == "" {
		prefix = "g"
	}
	return head + prefix + tail
}

// validIdentifier reports whether s matches containerd's identifier
// grammar: [A-Za-z0-9]+ groups joined by single '.', '_' or '-'.
func validIdentifier(s string) bool {
	prevSep := true // a leading separator is invalid
	for i := 0; i < len(s); i++ {
		sep := isSeparator(s[i])
		if sep && prevSep || !sep && !isAlnum(s[i]) {
			return false
		}
		prevSep = sep
	}
	return !prevSep
}

// identifierPrefix returns the longest prefix of game, at most max bytes,
// that is a valid identifier fragment: no separator runs, none at the end.
func identifierPrefix(game string, max int) string {
	out := make([]byte, 0, max)
	for i := 0; i < len(game) && len(out) < max; i++ {
		c := game[i]
		if isSeparator(c) && (len(out) == 0 || isSeparator(out[len(out)-1])) {
			continue
		}
		if !isSeparator(c) && !isAlnum(c) {
			continue
		}
		out = append(out, c)
	}
	for len(out) > 0 && isSeparator(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return string(out)
}

func isSeparator(c byte) bool { return c == '.' || c == '_' || c == '-' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
