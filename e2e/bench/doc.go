// Package bench measures rtmanager against the targets of issue 6 ("Proof")
// and writes docs/BENCHMARKS.md. The measurements live in tests behind the
// "bench" build tag so the e2e suite in CI does not run them; run them with
// scripts/bench.sh:
//
//   - P1: start→ready + stop of one game through the REST API of the binary
//     versus the same raw Docker Engine API calls, alternated.
//   - P2: lifecycle operations per second through core/lifecycle on real
//     PostgreSQL and Redis with the in-memory fake driver.
//   - P3: stream jobs per second through the ingress and the Redis queue.
//   - P4: one reconcile pass over 10,000 records; idle RSS and time to
//     /readyz of `rtmanager serve` on the embedded defaults.
//   - P5: the cost of one driver call through the plugin host.
//
// The scale figures of issue 17 are separate tests (scale_test.go), run
// with -run '^TestScale': a reconcile pass over 100,000 records, the RSS of
// `rtmanager serve` with 10,000 running records, and 200 concurrent starts
// on Docker against the raw Docker API.
package bench
