package testenv

import (
	"fmt"
	"testing"
)

// Capability returns v as the optional capability C (an interface such as
// ports.LeaseBatcher), or skips tb when v does not implement it; contract
// suites use it for the cases of optional port methods.
func Capability[C any](tb testing.TB, v any) C {
	tb.Helper()
	c, ok := v.(C)
	if !ok {
		var zero *C
		tb.Skipf("%T does not implement %s", v, fmt.Sprintf("%T", zero)[1:])
	}
	return c
}
