package core

import "strings"

// ImageAllow is the image allow-list: glob patterns where `*` matches any run
// of characters (slashes and colons included) and `?` matches one. An empty
// list allows every image.
type ImageAllow []string

// ParseImageAllow splits a comma-separated list, dropping empty items, and
// rejects patterns with white space.
func ParseImageAllow(s string) (ImageAllow, error) {
	var out ImageAllow
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, " \t\r\n") {
			return nil, Errorf(CodeInvalidRequest, "image allow pattern %q contains white space", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// Allows reports whether ref matches one of the patterns.
func (a ImageAllow) Allows(ref string) bool {
	if len(a) == 0 {
		return true
	}
	for _, p := range a {
		if glob(p, ref) {
			return true
		}
	}
	return false
}

// Check returns a forbidden error when ref is not allowed.
func (a ImageAllow) Check(ref string) error {
	if a.Allows(ref) {
		return nil
	}
	return Errorf(CodeForbidden, "image %q is not in the allow-list", ref)
}

// glob matches s against p with `*` and `?`, iteratively with one
// backtracking point, so it is linear in practice and never recursive.
func glob(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
