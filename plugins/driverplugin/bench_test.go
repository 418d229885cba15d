package driverplugin

import (
	"context"
	"testing"
)

// BenchmarkRoundTrip measures one Capabilities call over go-plugin's gRPC
// connection within one process: the protocol's cost without a process
// boundary (compare adapters/pluginhost BenchmarkCapabilities).
func BenchmarkRoundTrip(b *testing.B) {
	c := dial(b, &stubDriver{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Capabilities(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
