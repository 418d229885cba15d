// Package memory holds in-memory fakes of rtmanager's storage ports: a Store
// (records, operation log, health snapshots), a LeaseStore, a
// HealthPublisher, and a Telemetry that counts recovered panics. They are
// stateful, safe for concurrent use and pass the same contract suites as
// the real adapters, so core tests can run against them instead of
// hand-written mocks. Each fake can be made to fail a named method on
// demand.
package memory
