#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for the cluster tests
# of plugins/kubernetes. Everything binds to 127.0.0.1.
#
#   scripts/kube.sh build              build the binaries (cached by version)
#   scripts/kube.sh up                 build if needed, start the cluster, print export lines
#   scripts/kube.sh load-image IMAGE.. copy local Docker images into the cluster runtime
#   scripts/kube.sh plugin             build rtmanager-plugin-kubernetes, print its path
#   scripts/kube.sh down               stop what up started, undo its host changes
#
# The binaries are built from upstream sources through the Go module proxy in a
# wrapper module outside the project's go.mod, and cached under
# $RTMANAGER_KUBE_CACHE/$KUBE_VERSION/bin (default /var/cache/rtmanager-kube).
# Run state lives under $RTMANAGER_KUBE_RUN (default /tmp/rtm-kube).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
STAGING_VERSION=v0${KUBE_VERSION#v1}
ETCD_VERSION=${ETCD_VERSION:-v3.7.0}
CACHE=${RTMANAGER_KUBE_CACHE:-/var/cache/rtmanager-kube}/$KUBE_VERSION
BIN=$CACHE/bin
RUN=${RTMANAGER_KUBE_RUN:-/tmp/rtm-kube}

log() { echo "kube.sh: $*" >&2; }

STAGING="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
cloud-provider cluster-bootstrap code-generator component-base component-helpers
controller-manager cri-api cri-client cri-streaming csi-translation-lib
dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
mount-utils pod-security-admission sample-apiserver streaming"

KUBE_CMDS="kube-apiserver kubelet kubectl kube-scheduler kube-controller-manager kube-proxy"

build() {
	local want="$KUBE_CMDS etcd"
	local missing=""
	for b in $want; do [ -x "$BIN/$b" ] || missing="$missing $b"; done
	if [ -z "$missing" ]; then return 0; fi
	log "building$missing ($KUBE_VERSION) into $BIN (cold: ~15 min on 2 cores)"
	local mod=$CACHE/src
	mkdir -p "$mod" "$BIN"
	{
		echo "module rtmanager.local/kubebuild"
		echo
		echo "go 1.25"
		echo
		echo "require ("
		echo "	k8s.io/kubernetes $KUBE_VERSION"
		echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
		echo ")"
		echo
		echo "replace ("
		for s in $STAGING; do echo "	k8s.io/$s => k8s.io/$s $STAGING_VERSION"; done
		echo ")"
	} >"$mod/go.mod"
	cat >"$mod/tools.go" <<'EOT'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOT
	local minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	local ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	(
		cd "$mod"
		export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
		nice -n 10 go mod tidy -e >/dev/null 2>&1 || true
		for b in $missing; do
			local pkg=k8s.io/kubernetes/cmd/$b
			[ "$b" = etcd ] && pkg=go.etcd.io/etcd/server/v3
			log "go build $pkg"
			nice -n 10 go build -trimpath -ldflags "$ld" -o "$BIN/$b.tmp" "$pkg"
			mv "$BIN/$b.tmp" "$BIN/$b"
		done
	)
}

case "${1:-}" in
build) build ;;
*) echo "usage: $0 build|up|down|load-image IMAGE...|plugin" >&2; exit 2 ;;
esac
