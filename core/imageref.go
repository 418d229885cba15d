package core

import (
	"strings"
	"unicode/utf8"
)

// Image reference grammar limits.
const (
	// MaxImageNameLen bounds the host and path of an OCI reference (the
	// distribution reference grammar's 255).
	MaxImageNameLen = 255
	// MaxImageTagLen bounds a tag (the grammar's 128).
	MaxImageTagLen = 128
	// FileScheme is the scheme of references the process plugin runs:
	// file:///abs/path/to/executable.
	FileScheme = "file"
)

// Docker Hub's canonical host and the aliases normalised to it.
const (
	dockerHubHost    = "docker.io"
	dockerHubLegacy  = "index.docker.io"
	dockerHubLibrary = "library"
	defaultTag       = "latest"
)

// ImageRef is a parsed, normalised image reference. An OCI reference has a
// Host (docker.io when the name has none), a Path of one or more segments
// (library/ prefixed for a one-segment Docker Hub name) and a Tag and/or a
// Digest (Tag "latest" when neither is given). A file reference has Scheme
// "file", no Host, Tag or Digest, and the segments of its absolute path.
//
// The parser is lexical: it never resolves symbolic links (the process
// plugin resolves them before it runs the file) and it rejects rather than
// repairs anything that could mean two things — `..`, `.` and empty
// segments, percent escapes, white space, control and non-ASCII characters.
type ImageRef struct {
	Scheme string
	Host   string
	Path   []string
	Tag    string
	Digest string
}

// String returns the normalised reference: file:///a/b, or
// host/path[:tag][@digest].
func (r ImageRef) String() string {
	if r.Scheme == FileScheme {
		return "file:///" + strings.Join(r.Path, "/")
	}
	s := r.Host + "/" + strings.Join(r.Path, "/")
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// segments returns the segments a pattern is matched against: the host
// (for an OCI reference) followed by the path.
func (r ImageRef) segments() []string {
	if r.Scheme == FileScheme {
		return r.Path
	}
	return append([]string{r.Host}, r.Path...)
}

// ParseImageRef parses and normalises ref. Any reference that is not a
// well-formed OCI reference or file:///absolute/path is invalid_request.
func ParseImageRef(ref string) (ImageRef, error) {
	return parseRef(ref, false)
}

// ValidateImageRef checks that ref parses (see ParseImageRef).
func ValidateImageRef(ref string) error {
	_, err := ParseImageRef(ref)
	return err
}

// parseRef parses a reference, or with pattern set an allow-list pattern,
// where `*`, `?` and whole `**` segments are also accepted.
func parseRef(ref string, pattern bool) (ImageRef, error) {
	what := "image_ref"
	if pattern {
		what = "image allow pattern"
	}
	bad := func(format string, args ...any) (ImageRef, error) {
		return ImageRef{}, Errorf(CodeInvalidRequest, what+" %.80q: "+format, append([]any{ref}, args...)...)
	}
	switch {
	case ref == "":
		return ImageRef{}, Errorf(CodeInvalidRequest, "%s must not be empty", what)
	case len(ref) > MaxImageRefLen:
		return ImageRef{}, Errorf(CodeInvalidRequest, "%s is %d bytes long; at most %d are allowed", what, len(ref), MaxImageRefLen)
	case !utf8.ValidString(ref):
		return bad("not valid UTF-8")
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; c <= ' ' || c >= 0x7f {
			return bad("only printable ASCII without white space is allowed (byte %d is %#x)", i, c)
		}
	}
	if scheme, rest, ok := strings.Cut(ref, "://"); ok {
		if scheme != FileScheme {
			return bad("scheme %q is not supported; use file:///path or a registry reference", scheme)
		}
		return parseFile(rest, pattern, bad)
	}
	return parseOCI(ref, pattern, bad)
}

// parseFile parses the part of a file reference after "file://".
func parseFile(rest string, pattern bool, bad func(string, ...any) (ImageRef, error)) (ImageRef, error) {
	p, ok := strings.CutPrefix(rest, "/")
	if !ok {
		return bad("file references must be file:///absolute/path (no host)")
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if err := checkSegment(s, pattern, isFileChar); err != "" {
			return bad("path %s", err)
		}
	}
	return ImageRef{Scheme: FileScheme, Path: segs}, nil
}

// parseOCI parses host/path[:tag][@digest] and normalises Docker Hub names.
func parseOCI(ref string, pattern bool, bad func(string, ...any) (ImageRef, error)) (ImageRef, error) {
	var r ImageRef
	name := ref
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, r.Digest = name[:i], name[i+1:]
		if !validDigest(r.Digest, pattern) {
			return bad("digest %.80q must be algorithm:hex (e.g. sha256:<64 hex digits>)", r.Digest)
		}
	}
	segs := strings.Split(name, "/")
	last := segs[len(segs)-1]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		segs[len(segs)-1], r.Tag = last[:i], last[i+1:]
		if !validTag(r.Tag, pattern) {
			return bad("tag %.80q must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", r.Tag)
		}
	}
	if len(name)-len(r.Tag) > MaxImageNameLen {
		return bad("the name is longer than %d bytes", MaxImageNameLen)
	}
	first := segs[0]
	if len(segs) > 1 && (strings.ContainsAny(first, ".:") || first == "localhost" || pattern && first == "**") {
		r.Host, segs = first, segs[1:]
		if err := checkHost(r.Host, pattern); err != "" {
			return bad("registry host %s", err)
		}
		if r.Host == dockerHubLegacy {
			r.Host = dockerHubHost
		}
	} else {
		r.Host = dockerHubHost
	}
	for _, s := range segs {
		if err := checkSegment(s, pattern, isPathChar); err != "" {
			return bad("repository path %s", err)
		}
		if !pattern && !ociComponent(s) {
			return bad("repository path segment %s must be lowercase alphanumerics joined by '.', '_', '__' or '-'", quote(s))
		}
	}
	if r.Host == dockerHubHost && len(segs) == 1 && segs[0] != "**" {
		segs = []string{dockerHubLibrary, segs[0]}
	}
	r.Path = segs
	if r.Tag == "" && r.Digest == "" && !pattern {
		r.Tag = defaultTag
	}
	return r, nil
}

// checkSegment returns why s is not a valid path segment, or "".
func checkSegment(s string, pattern bool, ok func(byte) bool) string {
	switch s {
	case "":
		return "has an empty segment"
	case ".", "..":
		return "has a " + s + " segment"
	case "**":
		if pattern {
			return ""
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pattern && (c == '*' || c == '?') {
			if c == '*' && i+1 < len(s) && s[i+1] == '*' {
				return "has ** inside a segment; ** must be a whole segment"
			}
			continue
		}
		if !ok(c) {
			return "segment " + quote(s) + " has the character " + quote(string(c)) + " that is not allowed"
		}
	}
	return ""
}

// checkHost returns why h is not a valid registry host[:port], or "".
func checkHost(h string, pattern bool) string {
	if pattern && h == "**" {
		return ""
	}
	host, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
		if port == "" || len(port) > 5 {
			return quote(h) + " has a bad port"
		}
		for i := 0; i < len(port); i++ {
			if !(port[i] >= '0' && port[i] <= '9' || pattern && (port[i] == '*' || port[i] == '?')) {
				return quote(h) + " has a bad port"
			}
		}
	}
	if strings.HasPrefix(host, "[") {
		ip := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if len(ip) < 2 || !strings.HasSuffix(host, "]") || strings.Trim(ip, "0123456789abcdef:") != "" {
			return quote(h) + " is not a bracketed IPv6 address"
		}
		return ""
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' || len(label) > 63 {
			return quote(h) + " is not a lowercase DNS name"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || pattern && (c == '*' || c == '?')) {
				return quote(h) + " is not a lowercase DNS name"
			}
		}
	}
	return ""
}

// isPathChar: OCI repository path segments are lowercase alphanumerics
// joined by '.', '_', '__' or runs of '-'.
func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// ociComponent checks s against the distribution grammar of a path
// component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func ociComponent(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	i := 0
	for {
		start := i
		for i < len(s) && alnum(s[i]) {
			i++
		}
		if i == start {
			return false // a separator must sit between alphanumerics
		}
		if i == len(s) {
			return true
		}
		switch {
		case s[i] == '.':
			i++
		case strings.HasPrefix(s[i:], "__"):
			i += 2
		case s[i] == '_':
			i++
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// isFileChar: a portable file name character. '%' (URL escapes), ':' and
// '@' (tag and digest separators), '\' and glob characters are excluded so
// a file reference means exactly one path.
func isFileChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+' || c == '~' || c == '=' || c == ','
}

func validTag(t string, pattern bool) bool {
	if t == "" || len(t) > MaxImageTagLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		word := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !(word || i > 0 && (c == '.' || c == '-') || pattern && (c == '*' || c == '?')) {
			return false
		}
	}
	return true
}

func validDigest(d string, pattern bool) bool {
	alg, hex, ok := strings.Cut(d, ":")
	if pattern && d == "*" {
		return true
	}
	if !ok || alg == "" || len(alg) > 32 {
		return false
	}
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' && i > 0 || i > 0 && (c == '+' || c == '.' || c == '_' || c == '-')) {
			return false
		}
	}
	if pattern && strings.Trim(hex, "*?0123456789abcdef") == "" && hex != "" {
		return true
	}
	if len(hex) < 32 || len(hex) > 128 || strings.Trim(hex, "0123456789abcdef") != "" {
		return false
	}
	return alg != "sha256" || len(hex) == 64
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	return "\"" + s + "\""
}
