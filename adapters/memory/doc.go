// Package memory holds in-memory fakes of rtmanager's storage ports: a Store
// (records, operation log, health snapshots), a LeaseStore, a
// HealthPublisher, and a Telemetry that counts recovered panics. They are
// stateful, safe for concurrent use and pass the same contract suites as
// the real adapters, so core tests can run against them instead of
// hand-written mocks. Each storage fake embeds a fault Set
// (adapters/internal/faults), so a test fails a named method on demand with
// FailNext, FailNth or FailAlways, undoes that with Heal, and counts calls
// with Calls.
package memory
