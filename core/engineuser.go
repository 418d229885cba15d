package core

import (
	"strconv"
	"strings"
)

// ParseEngineUser parses RTMANAGER_ENGINE_USER: a numeric uid:gid (each
// below 2^31). Empty is not valid here; callers treat it as "the image's
// user" before calling.
func ParseEngineUser(s string) (uid, gid uint32, err error) {
	u, g, ok := strings.Cut(s, ":")
	un, uerr := strconv.ParseUint(u, 10, 31)
	gn, gerr := strconv.ParseUint(g, 10, 31)
	if !ok || uerr != nil || gerr != nil {
		return 0, 0, Errorf(CodeInvalidRequest, "engine user %q must be numeric uid:gid, e.g. 65534:65534", s)
	}
	return uint32(un), uint32(gn), nil
}
