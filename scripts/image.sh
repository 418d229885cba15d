#!/usr/bin/env bash
# Builds the rtmanager container image from deploy/Dockerfile.scratch with
# no registry: the static binary is built by the local Go toolchain
# (CGO off, version/revision stamped as in scripts/release.sh), the CA
# certificates come from the host. The image also carries the shipped
# driver plugins, built the same way, under /usr/lib/rtmanager/plugins
# (deploy/kubernetes runs rtmanager-plugin-kubernetes from there). The last
# line printed is the image reference.
#
#   IMAGE     image reference to tag (default rtmanager:<version>)
#   VERSION   version to stamp (default: git describe, else dev)
#   REVISION  revision to stamp (default: the commit of HEAD)
#   SOURCE    org.opencontainers.image.source label
#   CA_BUNDLE CA certificates to copy (default /etc/ssl/certs/ca-certificates.crt)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
. scripts/lib/build.sh

version=$(rtm_version)
revision=$(rtm_revision)
image=${IMAGE:-rtmanager:$(rtm_safe "$version")}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] || { echo "image.sh: no CA bundle at $ca (apt-get install ca-certificates)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
arch=$(go env GOARCH)
rtm_build linux "$arch" ./app/cmd/rtmanager "$ctx/rtmanager" >&2
# The shipped plugins. The Kubernetes one is a nested module (client-go).
mkdir -p "$ctx/plugins"
rtm_build linux "$arch" ./plugins/process/cmd/rtmanager-plugin-process "$ctx/plugins/rtmanager-plugin-process" >&2
(cd plugins/kubernetes && GOWORK=off rtm_build linux "$arch" ./cmd/rtmanager-plugin-kubernetes "$ctx/plugins/rtmanager-plugin-kubernetes") >&2
cp "$ca" "$ctx/ca-certificates.crt"
printf 'rtmanager:x:65532:65532:rtmanager:/var/lib/rtmanager:/sbin/nologin\n' >"$ctx/passwd"
printf 'rtmanager:x:65532:\n' >"$ctx/group"
mkdir -p "$ctx/data" "$ctx/tmp"
chmod 1777 "$ctx/tmp"

docker build -q -f deploy/Dockerfile.scratch \
	--build-arg VERSION="$version" --build-arg REVISION="$revision" \
	--build-arg SOURCE="${SOURCE:-https://github.com/galaxy-game/rtmanager}" \
	--build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	-t "$image" "$ctx" >&2
echo "$image"
