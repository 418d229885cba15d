package core

import "testing"

func TestParseJobSeq(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want JobSeq
		ok   bool
	}{
		{"1700000000000-0", JobSeq{1700000000000, 0}, true},
		{"5-12", JobSeq{5, 12}, true},
		{"42", JobSeq{42, 0}, true},
		{"", JobSeq{}, false},
		{"x-1", JobSeq{}, false},
		{"1-x", JobSeq{}, false},
		{"-1", JobSeq{}, false},
	} {
		got, err := ParseJobSeq(tc.id)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseJobSeq(%q) = %v, %v; want %v, ok=%v", tc.id, got, err, tc.want, tc.ok)
		}
		if tc.ok && tc.id != "42" && got.String() != tc.id {
			t.Errorf("String() = %q, want %q", got.String(), tc.id)
		}
	}
}

func TestJobSeqCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b JobSeq
		want int
	}{
		{JobSeq{1, 0}, JobSeq{2, 0}, -1},
		{JobSeq{2, 0}, JobSeq{1, 9}, 1},
		{JobSeq{2, 1}, JobSeq{2, 3}, -1},
		{JobSeq{2, 3}, JobSeq{2, 1}, 1},
		{JobSeq{2, 3}, JobSeq{2, 3}, 0},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if !(JobSeq{}).IsZero() || (JobSeq{0, 1}).IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestJobNewer(t *testing.T) {
	a, b := JobSeq{5, 0}, JobSeq{6, 0}
	for _, tc := range []struct {
		seq   JobSeq
		kind  OpKind
		than  JobSeq
		thanK OpKind
		want  bool
	}{
		{b, OpStart, a, OpStop, true},
		{a, OpStop, b, OpStart, false},
		{a, OpStop, a, OpStart, true},
		{a, OpStart, a, OpStop, false},
		{a, OpStart, a, OpStart, false},
		{a, OpStop, a, OpStop, false},
	} {
		if got := JobNewer(tc.seq, tc.kind, tc.than, tc.thanK); got != tc.want {
			t.Errorf("JobNewer(%v %s, %v %s) = %v, want %v", tc.seq, tc.kind, tc.than, tc.thanK, got, tc.want)
		}
	}
}
