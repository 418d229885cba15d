# Sourced by scripts/image.sh and scripts/release.sh: the one place that
# decides how release binaries are built (static, trimmed, stamped).
#
#   rtm_version   VERSION, else `git describe --tags --always --dirty`, else dev
#   rtm_revision  REVISION, else the commit of HEAD (+"-dirty"), else unknown
#   rtm_safe S    S with characters unfit for file names and image tags as -
#   rtm_build GOOS GOARCH PACKAGE OUTPUT
#                 CGO_ENABLED=0 go build -trimpath with -s -w and
#                 -X main.version / -X main.revision stamped

rtm_version() {
	if [ -n "${VERSION:-}" ]; then echo "$VERSION"; return; fi
	git describe --tags --always --dirty 2>/dev/null || echo dev
}

rtm_revision() {
	if [ -n "${REVISION:-}" ]; then echo "$REVISION"; return; fi
	local rev
	if rev=$(git rev-parse HEAD 2>/dev/null); then
		if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then rev="$rev-dirty"; fi
		echo "$rev"
	else
		echo unknown
	fi
}

rtm_safe() {
	echo "$1" | tr -c 'A-Za-z0-9_.\n-' '-' | cut -c1-128
}

rtm_build() {
	local goos=$1 goarch=$2 pkg=$3 out=$4
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath \
		-ldflags "-s -w -X main.version=$(rtm_version) -X main.revision=$(rtm_revision)" \
		-o "$out" "$pkg"
}
