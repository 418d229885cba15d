package core

import (
	"slices"
	"strings"
)

// ImageAllow is the image allow-list of SPEC §11: patterns matched against
// the parsed, normalised reference segment by segment (see ImageRef). An
// empty list allows every well-formed image.
//
// A pattern is written like a reference and normalised the same way
// (`nginx:*` means `docker.io/library/nginx:*`). Within a segment `*`
// matches any run of characters and `?` one character; neither crosses
// `/`. A whole `**` segment matches zero or more segments (`**` as the
// first segment also matches any registry host). A pattern without a tag
// matches every tag; one without a digest matches with or without one; a
// pattern with `@…` requires a matching digest (`@sha256:*` admits only
// pinned references). A `file:///…` pattern matches only file references.
type ImageAllow []ImagePattern

// ImagePattern is one parsed allow-list pattern.
type ImagePattern struct {
	// Text is the pattern as configured.
	Text string
	ref  ImageRef
}

// ParseImageAllow splits a comma-separated list, dropping empty items, and
// parses every pattern; a malformed one is invalid_request.
func ParseImageAllow(s string) (ImageAllow, error) {
	var out ImageAllow
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		ref, err := parseRef(p, true)
		if err != nil {
			return nil, err
		}
		out = append(out, ImagePattern{Text: p, ref: ref})
	}
	return out, nil
}

// Allows reports whether the parsed reference ref matches one of the
// patterns.
func (a ImageAllow) Allows(ref ImageRef) bool {
	if len(a) == 0 {
		return true
	}
	for _, p := range a {
		if p.matches(ref) {
			return true
		}
	}
	return false
}

// Check parses ref and returns invalid_request when it is malformed or
// has a scheme outside schemes (the schemes the runtime driver owns besides
// registry references, e.g. FileScheme for the process plugin), or
// forbidden when no pattern allows it.
func (a ImageAllow) Check(ref string, schemes ...string) error {
	r, err := ParseImageRef(ref)
	if err != nil {
		return err
	}
	if r.Scheme != "" && !slices.Contains(schemes, r.Scheme) {
		return Errorf(CodeInvalidRequest, "image_ref %.80q: the runtime driver does not run %s:// images", ref, r.Scheme)
	}
	if !a.Allows(r) {
		return Errorf(CodeForbidden, "image %q (%s) is not in the allow-list", ref, r)
	}
	return nil
}

func (p ImagePattern) matches(r ImageRef) bool {
	q := p.ref
	if q.Scheme != r.Scheme {
		return false
	}
	if q.Tag != "" && !glob(q.Tag, r.Tag) {
		return false
	}
	if q.Digest != "" && (r.Digest == "" || !glob(q.Digest, r.Digest)) {
		return false
	}
	return matchSegments(q.segments(), r.segments())
}

// matchSegments matches ref segments against pattern segments, where a
// "**" pattern segment matches zero or more ref segments. It is a dynamic
// programme over (pattern, ref) positions: O(len(pat)·len(ref)), never
// exponential.
func matchSegments(pat, ref []string) bool {
	// ok[j] reports whether pat[:i] matches ref[:j] for the current i.
	ok := make([]bool, len(ref)+1)
	ok[0] = true
	for _, p := range pat {
		next := make([]bool, len(ref)+1)
		if p == "**" {
			any := false
			for j := range ok {
				any = any || ok[j]
				next[j] = any
			}
		} else {
			for j := 1; j <= len(ref); j++ {
				next[j] = ok[j-1] && glob(p, ref[j-1])
			}
		}
		ok = next
	}
	return ok[len(ref)]
}

// glob matches s against p with `*` and `?`, iteratively with one
// backtracking point, so it is linear in practice and never recursive.
// Callers pass single segments, so `*` never crosses `/`.
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

// MustParseImageAllow is ParseImageAllow for patterns known to be valid,
// such as test fixtures; it panics on a malformed pattern.
func MustParseImageAllow(s string) ImageAllow {
	a, err := ParseImageAllow(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String returns the pattern as configured.
func (p ImagePattern) String() string { return p.Text }
