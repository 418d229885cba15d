// Package check validates the deployer artefacts that no Go code of the
// main module consumes: the Grafana dashboard (deploy/grafana), the metric
// names of the Prometheus rules (deploy/prometheus) and the Kubernetes
// manifests (deploy/kubernetes). It is a module of its own so that the
// Prometheus PromQL parser, a heavy dependency, stays out of
// rtmanager's go.mod; scripts/test.sh runs `go test ./...` here with
// GOFLAGS=-mod=mod, so a dependency the main module adds later does not
// break this module's go.mod (it requires the main module through a
// replace directive to ../..).
//
// Every PromQL expression must parse with the Prometheus parser and may
// name only series a running rtmanager exports (the tests start one and
// scrape its /metrics after a game was started and stopped), the
// recording rules of deploy/prometheus/rules.yml, or `up`.
package check
