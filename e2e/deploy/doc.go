// Package deploy tests what deployers run, each with the tool that consumes
// it (build tag e2e): the container image built by scripts/image.sh under
// Docker, the Prometheus rules under promtool and a real Prometheus server
// scraping a real rtmanager, and the release built by scripts/release.sh.
// The Grafana dashboard is checked by the nested module deploy/check, which
// keeps the Prometheus parser out of the main module.
package deploy
