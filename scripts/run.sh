#!/usr/bin/env bash
# The main job on a fresh machine: rtmanager on its embedded defaults (SQLite
# in the data dir, the embedded Redis, the Docker driver) running a real game
# engine container.
#
# It installs and starts the Docker engine if missing, builds a sample engine
# image locally (FROM scratch, no registry), starts `rtmanager serve`, starts
# the game `demo-1` through the REST API and prints how to reach it.
# rtmanager then keeps running in the foreground until Ctrl-C; with
# RTM_RUN_DETACH=1 it is left running in the background instead (its pid is
# printed) and the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
API=${RTMANAGER_HTTP_ADDR:-127.0.0.1:8080}
IMAGE=rtmanager-sample-engine:latest
log() { echo "run: $*" >&2; }

if ! command -v dockerd >/dev/null; then
	log "installing docker.io"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
	log "starting dockerd"
	mkdir -p /tmp/rtm-services
	nohup dockerd --host unix:///var/run/docker.sock >/tmp/rtm-services/dockerd.log 2>&1 &
	for _ in $(seq 1 300); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
	docker info >/dev/null 2>&1 || { log "dockerd did not start; see /tmp/rtm-services/dockerd.log"; exit 1; }
fi

log "building the sample engine image $IMAGE"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ctx/engine" ./e2e/engine
printf 'FROM scratch\nCOPY engine /engine\nENTRYPOINT ["/engine"]\n' >"$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ctx" >/dev/null

log "building rtmanager"
go build -o bin/rtmanager ./app/cmd/rtmanager
if [ "${RTM_RUN_DETACH:-}" = 1 ]; then
	LOG=${TMPDIR:-/tmp}/rtmanager-run.log
	nohup bin/rtmanager serve >"$LOG" 2>&1 &
	log "rtmanager logs to $LOG"
else
	bin/rtmanager serve &
fi
pid=$!
for _ in $(seq 1 300); do curl -sf "http://$API/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://$API/readyz" >/dev/null || { log "rtmanager did not become ready"; kill "$pid"; exit 1; }

log "starting game demo-1"
curl -sf -H 'Content-Type: application/json' -X POST "http://$API/api/v1/internal/runtimes/demo-1/start" \
	-d "{\"image_ref\":\"$IMAGE\",\"env\":{\"MODE\":\"demo\"}}"
echo
endpoint=$(curl -sf "http://$API/api/v1/internal/runtimes/demo-1" | sed -n 's/.*"endpoint":"\([^"]*\)".*/\1/p')
cat <<MSG

The game demo-1 runs at http://$endpoint — try:
  curl http://$endpoint/healthz
  curl http://$API/api/v1/internal/runtimes/demo-1
  curl -H 'Content-Type: application/json' -X POST http://$API/api/v1/internal/runtimes/demo-1/stop -d '{"reason":"admin_request"}'
Stream jobs go through the embedded Redis (its password-protected URL is in the data dir):
  redis-cli -u "\$(cat ${RTMANAGER_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/rtmanager}/embedded-redis.url)" XRANGE runtime:job_results - +
rtmanager (pid $pid) writes JSON logs (to ${LOG:-stderr}); status page at http://$API/status, metrics at http://$API/metrics.
MSG
if [ "${RTM_RUN_DETACH:-}" = 1 ]; then
	exit 0
fi
wait "$pid"
