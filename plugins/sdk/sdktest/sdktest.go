// Package sdktest is the test half of the plugin SDK: it runs rtmanager's
// driver conformance suite against an integrator's driver. It lives apart
// from package sdk so that a plugin binary, which imports sdk, does not link
// the testing package.
package sdktest

import (
	"testing"

	"github.com/galaxy-game/rtmanager/ports/drivertest"
)

// Harness tells the conformance suite how to reach the driver under test;
// see drivertest.Harness.
type Harness = drivertest.Harness

// Caps names conformance cases a driver cannot support, each with its
// reason; see drivertest.Caps.
type Caps = drivertest.Caps

// Conformance runs rtmanager's driver conformance suite against the driver
// h describes, as subtests of t. A plugin repository runs it from one test:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Conformance(t, sdktest.Harness{New: ..., Image: ..., MissingImage: ..., Port: 8080})
//	}
//
// To test across the real plugin boundary, build the plugin binary and make
// New return a pluginhost.Host for it (see docs/plugins.md).
func Conformance(t *testing.T, h Harness) {
	t.Helper()
	drivertest.Run(t, h)
}
