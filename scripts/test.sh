#!/usr/bin/env bash
# Runs every test of rtmanager on real components. It installs what is
# missing (docker.io, containerd, redis-server, chromium), starts dockerd, a standalone
# containerd, redis-server and PostgreSQL 15, runs go vet, the unit and
# contract suites and the e2e-tagged suites, then builds and starts a real
# single-node Kubernetes cluster (scripts/kube.sh; RTMANAGER_TEST_KUBE=0
# skips it) for the Kubernetes driver plugin's tests, and stops what it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
export CI=${CI:-}

# promtool and the Prometheus server (Debian package prometheus) for the
# deploy/prometheus checks. policy-rc.d keeps the package's own service
# (it would listen on :9090 on every interface) from starting.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
	guard=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
	fi
	rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || rc=$?
	if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi
	if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
	[ "$rc" = 0 ] || { echo "apt-get install prometheus failed"; exit "$rc"; }
fi
# Headless Chromium for the status-page browser test (app.TestStatusPageInChromium).
if ! command -v chromium >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

eval "$(scripts/services.sh up)"
cleanup() {
	if [ "${RTMANAGER_TEST_KUBE:-1}" != 0 ]; then scripts/kube.sh down || true; fi
	# Containers and images tests made, by label, then the services.
	docker ps -aq --filter label=rtmanager.managed=true 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
	docker ps -aq --filter label=rtmanager.test=deploy-image 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
	docker volume ls -q --filter label=rtmanager.test=deploy-image 2>/dev/null | xargs -r docker volume rm -f >/dev/null 2>&1 || true
	docker images -q --filter 'reference=rtmanager-test-*' 2>/dev/null | xargs -r docker rmi -f >/dev/null 2>&1 || true
	scripts/services.sh down
}
trap cleanup EXIT

# The cluster binaries build (cold: ~15 min on 2 cores) while the other
# suites run.
if [ "${RTMANAGER_TEST_KUBE:-1}" != 0 ]; then
	nice -n 10 scripts/kube.sh build >/tmp/rtm-kube-build.log 2>&1 &
	kube_build=$!
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
go vet -tags e2e ./e2e/...
go vet -tags bench ./e2e/bench/
(cd deploy/check && GOFLAGS=-mod=mod go vet ./...)
echo "== go test ./..."
go test -count=1 -timeout 25m ./...
echo "== deploy/check (Grafana dashboard and rule names against a running rtmanager)"
(cd deploy/check && GOFLAGS=-mod=mod go test -count=1 -timeout 10m ./...)
echo "== go test -tags e2e ./e2e/... (e2e/deploy: image, promtool, Prometheus, release)"
RTMANAGER_TEST_RESTART_DOCKERD=1 go test -count=1 -p 1 -timeout 50m -tags e2e ./e2e/...

if [ "${RTMANAGER_TEST_KUBE:-1}" != 0 ]; then
	echo "== kubernetes: scripts/kube.sh up"
	wait "$kube_build" || { cat /tmp/rtm-kube-build.log; exit 1; }
	eval "$(scripts/kube.sh up)"
	scripts/kube.sh add-node 2   # a second kubelet: spread and drain tests
	echo "== kubernetes: go vet + go test ./plugins/kubernetes/..."
	(cd plugins/kubernetes && go vet ./... && go test -count=1 -p 1 -timeout 30m ./...)
	echo "== kubernetes: rtmanager on the cluster through the plugin (e2e)"
	go test -count=1 -timeout 15m -tags e2e -run 'TestKubernetes' ./e2e/blackbox/
fi
