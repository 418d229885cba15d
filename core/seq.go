package core

import (
	"fmt"
	"strconv"
	"strings"
)

// JobSeq is the order of a stream job: the stream entry id ("ms-seq") the
// producer's XADD was given. Both job streams take their milliseconds from
// the same Redis clock, so JobSeq orders jobs across them, except that the
// sequence part counts per stream: a start and a stop added in the same
// millisecond can carry the same id. Such a tie counts as the start first
// (see JobNewer). The zero JobSeq means "not a stream job".
type JobSeq struct {
	Millis, Seq uint64
}

// ParseJobSeq parses a stream entry id "ms-seq" (a bare "ms" means seq 0).
func ParseJobSeq(id string) (JobSeq, error) {
	ms, seq, hasSeq := strings.Cut(id, "-")
	m, err := strconv.ParseUint(ms, 10, 64)
	if err != nil {
		return JobSeq{}, fmt.Errorf("stream entry id %q: %w", id, err)
	}
	var s uint64
	if hasSeq {
		if s, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return JobSeq{}, fmt.Errorf("stream entry id %q: %w", id, err)
		}
	}
	return JobSeq{Millis: m, Seq: s}, nil
}

// Compare returns -1, 0 or +1 as s is older than, the same as or newer
// than o.
func (s JobSeq) Compare(o JobSeq) int {
	switch {
	case s.Millis != o.Millis:
		return cmpUint(s.Millis, o.Millis)
	default:
		return cmpUint(s.Seq, o.Seq)
	}
}

// IsZero reports whether s is the zero JobSeq.
func (s JobSeq) IsZero() bool { return s == JobSeq{} }

// String returns the stream entry id form "ms-seq".
func (s JobSeq) String() string { return fmt.Sprintf("%d-%d", s.Millis, s.Seq) }

// JobNewer reports whether the stream job (seq, kind) is newer than the
// stream job (than, thanKind): a later id, or the same id on the stop
// stream when the other is a start, the order the ingress reads them in.
func JobNewer(seq JobSeq, kind OpKind, than JobSeq, thanKind OpKind) bool {
	c := seq.Compare(than)
	return c > 0 || (c == 0 && kind == OpStop && thanKind == OpStart)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
