package process

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		state byte
		start uint64
		bad   bool
	}{
		{"plain", "4242 (engine) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 98765 1000 200 18446744073709551615", 'S', 98765, false},
		{"name with spaces and parens", "7 (a) b (c) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123 0 0", 'Z', 123, false},
		{"truncated", "7 (x) S 1 2 3", 0, 0, true},
		{"no name", "garbage", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := parseStat([]byte(tt.line))
			if (err != nil) != tt.bad {
				t.Fatalf("parseStat error = %v, want error %v", err, tt.bad)
			}
			if !tt.bad && (st.state != tt.state || st.startTicks != tt.start) {
				t.Errorf("parseStat = %c %d, want %c %d", st.state, st.startTicks, tt.state, tt.start)
			}
		})
	}
}

func TestAliveSelf(t *testing.T) {
	self, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !alive(os.Getpid(), self.startTicks) {
		t.Errorf("this process is not alive by its own start time")
	}
	if alive(os.Getpid(), self.startTicks+1) {
		t.Errorf("a start time mismatch (a reused pid) counts as alive")
	}
}
