#!/usr/bin/env bash
# Builds a release of rtmanager: the rtmanager binary and the shipped driver
# plugins, static (CGO off), trimmed, with version and revision stamped
# (`rtmanager version` prints them), for every platform; then SBOM.txt (the
# `go version -m` report of every binary: Go version, build settings and
# the exact module versions linked) and SHA256SUMS over all of it. Verify a
# download with `sha256sum -c SHA256SUMS`. The last line printed is the
# output directory.
#
#   VERSION    version to stamp (default: git describe, else dev)
#   REVISION   revision to stamp (default: the commit of HEAD)
#   PLATFORMS  GOOS/GOARCH list (default "linux/amd64 linux/arm64")
#   OUT        output directory (default dist/<version>); emptied first
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
. scripts/lib/build.sh

# The commands a release ships: rtmanager and the shipped plugins, each as
# <module dir>:<package> (the Kubernetes plugin is its own module, so
# client-go stays out of rtmanager's module graph).
commands=(.:app/cmd/rtmanager .:plugins/process/cmd/rtmanager-plugin-process
	plugins/kubernetes:cmd/rtmanager-plugin-kubernetes)

version=$(rtm_version)
export VERSION=$version REVISION=$(rtm_revision)
out=${OUT:-dist/$(rtm_safe "$version")}
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
for platform in ${PLATFORMS:-linux/amd64 linux/arm64}; do
	goos=${platform%/*}
	goarch=${platform#*/}
	for entry in "${commands[@]}"; do
		mod=${entry%%:*} cmd=${entry#*:}
		bin="$(basename "$cmd")_$(rtm_safe "$version")_${goos}_${goarch}"
		echo "building $bin" >&2
		(cd "$mod" && GOWORK=off rtm_build "$goos" "$goarch" "./$cmd" "$out/$bin")
	done
done
(
	cd "$out"
	{
		echo "# rtmanager $VERSION revision $REVISION: go version -m of every binary"
		for f in *_*_*_*; do go version -m "$f"; done
	} >SBOM.txt
	sha256sum -- *_*_*_* SBOM.txt >SHA256SUMS
)
echo "$out"
