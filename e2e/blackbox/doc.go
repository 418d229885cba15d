// Package blackbox is the black-box end-to-end suite of rtmanager: it runs
// the built binary (through e2e/harness) against real Docker, containerd,
// PostgreSQL and Redis, drives it only through its public contracts (REST,
// Redis Streams, /metrics) and checks the real containers behind it.
//
// The tests carry the e2e build tag:
//
//	go test -tags e2e -count=1 ./e2e/blackbox/
//
// Cases: every cell of the SPEC §2 transition table through REST and,
// for start and stop, through the job streams; restart and patch audit
// correlation and patch rollback; health events (exit, OOM, disappearance,
// probe failure); the reconciler (vanished, exited, orphan, mid-start
// adoption across a kill -9); the embedded-default stores; the containerd
// and the process-plugin drivers; bearer-token auth and /metrics.
package blackbox
