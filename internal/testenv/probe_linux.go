package testenv

import (
	"os"
	"syscall"
	"testing"
)

// allocated is the space a file takes on disk (sparse holes excluded).
func allocated(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
