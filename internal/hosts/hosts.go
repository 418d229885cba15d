// Package hosts decides which Host names rtmanager answers to: the
// loopback rule behind the DNS-rebinding guard, the "no token on a public
// address" start-up check and the X-Admin-User trust of a token-less API,
// and the operator's list of extra names (RTMANAGER_ALLOWED_HOSTS).
package hosts

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// IsLoopback reports whether host (without port; IPv6 with or without
// brackets) is a loopback name or address: "localhost" or a name under
// ".localhost" (RFC 6761; a trailing dot is allowed), an address in
// 127.0.0.0/8, ::1, or an IPv4-mapped loopback address. The unspecified
// addresses 0.0.0.0 and :: are not loopback: they mean every interface.
func IsLoopback(host string) bool {
	host = normal(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// IsLoopbackAddr reports whether the host of addr (host:port, or a bare
// host) is loopback.
func IsLoopbackAddr(addr string) bool {
	host, _ := Split(addr)
	return IsLoopback(host)
}

// Split splits a Host header or address into host and port. The port is
// empty when hostport has none; IPv6 brackets are removed.
func Split(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return unbracket(hostport), ""
}

// unbracket removes the brackets of "[v6addr]".
func unbracket(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// normal lower-cases host, drops a trailing dot and IPv6 brackets.
func normal(host string) string {
	return unbracket(strings.TrimSuffix(strings.ToLower(host), "."))
}

// Allowed is a list of extra Host names an API answers to besides the
// loopback ones. An entry without a port matches the name on any port; an
// entry with a port matches only that port. Names compare without case and
// without a trailing dot; there are no name wildcards. An entry may also be
// an IP prefix such as 10.0.0.0/8: it matches a Host that is an IP address
// in it, on any port (for scrapers and clients that address pods by IP; an
// address literal cannot be rebound to another machine by DNS).
type Allowed []entry

type entry struct {
	host, port string
	prefix     netip.Prefix // valid for a prefix entry
}

// ParseAllowed parses a comma-separated list of host or host:port entries
// (IPv6 in brackets). An empty list allows only loopback names.
func ParseAllowed(list string) (Allowed, error) {
	var out Allowed
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if p, err := netip.ParsePrefix(raw); err == nil {
			out = append(out, entry{prefix: p.Masked()})
			continue
		}
		host, port := Split(raw)
		if port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("%q: port must be 1 to 65535", raw)
			}
		}
		if !validHost(normal(host)) {
			return nil, fmt.Errorf("%q: want a host name or IP address, optionally with :port (no scheme, path or wildcard)", raw)
		}
		out = append(out, entry{host: normal(host), port: port})
	}
	return out, nil
}

// validHost reports whether h is an IP address or a DNS name of letters,
// digits, '-', '_' and dots.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	return strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == ""
}

// Permits reports whether a request with Host header hostport may be
// served: its host is loopback (on any port) or matches an entry.
func (a Allowed) Permits(hostport string) bool {
	host, port := Split(hostport)
	host = normal(host)
	if host == "" {
		return false
	}
	if IsLoopback(host) {
		return true
	}
	ip, ipErr := netip.ParseAddr(host)
	return slices.ContainsFunc(a, func(e entry) bool {
		if e.prefix.IsValid() {
			return ipErr == nil && e.prefix.Contains(ip.Unmap())
		}
		return e.host == host && (e.port == "" || e.port == port)
	})
}

// String returns the list as ParseAllowed reads it.
func (a Allowed) String() string {
	parts := make([]string, len(a))
	for i, e := range a {
		if e.prefix.IsValid() {
			parts[i] = e.prefix.String()
			continue
		}
		h := e.host
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		if e.port != "" {
			h += ":" + e.port
		}
		parts[i] = h
	}
	return strings.Join(parts, ",")
}
