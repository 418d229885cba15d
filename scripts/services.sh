#!/usr/bin/env bash
# Installs (when missing) and starts, or stops, every component the tests use:
# dockerd, a standalone containerd on its own socket, redis-server on a
# loopback port and the local PostgreSQL 15 cluster. Only what this script
# started is stopped by `down`.
#
#   scripts/services.sh up     # prints `export ...` lines for the test env
#   scripts/services.sh down
set -euo pipefail

STATE=${RTM_SERVICES_DIR:-/tmp/rtm-services}
REDIS_PORT=${RTM_REDIS_PORT:-6391}
PG_PASSWORD=rtmanager
PG_MAX_CONNECTIONS=${RTM_PG_MAX_CONNECTIONS:-300}
CTR_DIR=$STATE/containerd

log() { echo "services: $*" >&2; }

wait_for() { # wait_for <seconds> <description> <command...>
	local secs=$1 what=$2; shift 2
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= end)); then log "$what did not come up in ${secs}s"; return 1; fi
		sleep 0.2
	done
}

install_missing() {
	local need=()
	command -v dockerd >/dev/null || need+=(docker.io)
	command -v containerd >/dev/null || need+=(containerd)
	command -v redis-server >/dev/null || need+=(redis-server)
	# The image tests run their own registry (internal/testenv/registry.go).
	command -v docker-registry >/dev/null || need+=(docker-registry)
	command -v htpasswd >/dev/null || need+=(apache2-utils)
	if ((${#need[@]})); then
		log "installing ${need[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
	# The package's own registry service (0.0.0.0:5000, no auth) must not
	# be left running: the tests start private ones on loopback.
	if [[ " ${need[*]} " == *" docker-registry "* ]]; then
		service docker-registry stop >/dev/null 2>&1 || true
	fi
}

mark() { touch "$STATE/started.$1"; }

# Only the export lines go to stdout (the caller evals them); anything a
# tool prints (pg_ctlcluster's "Removed stale pid file.", apt) goes to
# stderr. (Not via a saved fd: the daemons started here would inherit it
# and keep the caller's $(...) waiting forever.)
up() {
	start_all >&2
	env_lines
}

start_all() {
	mkdir -p "$STATE" "$CTR_DIR"
	install_missing

	if ! docker info >/dev/null 2>&1; then
		log "starting dockerd"
		nohup dockerd --host unix:///var/run/docker.sock >"$STATE/dockerd.log" 2>&1 &
		echo $! >"$STATE/dockerd.pid"
		mark dockerd
		wait_for 60 dockerd docker info
	elif ! [ -s "$STATE/dockerd.pid" ]; then
		# Started by someone else (e.g. a package's init script): record its
		# pid for the tests that restart it, but never stop it in `down`.
		pgrep -xo dockerd >"$STATE/dockerd.pid" || true
	fi

	if ! [ -S "$CTR_DIR/containerd.sock" ] || ! ctr --address "$CTR_DIR/containerd.sock" version >/dev/null 2>&1; then
		log "starting standalone containerd"
		cat >"$CTR_DIR/config.toml" <<TOML
version = 2
root = "$CTR_DIR/root"
state = "$CTR_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CTR_DIR/containerd.sock"
[ttrpc]
  address = "$CTR_DIR/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTR_DIR/opt"
TOML
		nohup containerd --config "$CTR_DIR/config.toml" >"$STATE/containerd.log" 2>&1 &
		echo $! >"$STATE/containerd.pid"
		mark containerd
		wait_for 30 containerd ctr --address "$CTR_DIR/containerd.sock" version
	fi

	if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
		log "starting redis-server on 127.0.0.1:$REDIS_PORT"
		redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
			--daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
		mark redis
		wait_for 10 redis redis-cli -p "$REDIS_PORT" ping
	fi

	if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
		log "starting PostgreSQL 15 (max_connections $PG_MAX_CONNECTIONS)"
		# One `go test ./...` held 22 connections at most (measured; the
		# two largest packages, app 23 and sqlstore 15, bound it at 38);
		# the default 100 runs out when several test runs share this
		# server (SQLSTATE 53300).
		pg_ctlcluster 15 main start -- -o "-c max_connections=$PG_MAX_CONNECTIONS"
		mark postgres
		wait_for 30 postgres pg_isready -h 127.0.0.1 -p 5432
	fi
	su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD '$PG_PASSWORD'\"" >/dev/null
}

env_lines() {
	cat <<ENV
export RTMANAGER_TEST_POSTGRES_URL='postgres://postgres:$PG_PASSWORD@127.0.0.1:5432/postgres?sslmode=disable'
export RTMANAGER_TEST_REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'
export RTMANAGER_TEST_CONTAINERD_ADDRESS='$CTR_DIR/containerd.sock'
export RTMANAGER_TEST_DOCKER_HOST='unix:///var/run/docker.sock'
ENV
}

stop_pid() { # stop_pid <name>
	local f="$STATE/$1.pid"
	[ -f "$f" ] || return 0
	local pid; pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

down() {
	[ -f "$STATE/started.redis" ] && { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; rm -f "$STATE/started.redis"; }
	[ -f "$STATE/started.postgres" ] && { pg_ctlcluster 15 main stop || true; rm -f "$STATE/started.postgres"; }
	if [ -f "$STATE/started.containerd" ]; then
		# containerd's shims outlive it; kill the tasks first
		for ns in $(ctr --address "$CTR_DIR/containerd.sock" namespaces ls -q 2>/dev/null); do
			for t in $(ctr --address "$CTR_DIR/containerd.sock" -n "$ns" tasks ls -q 2>/dev/null); do
				ctr --address "$CTR_DIR/containerd.sock" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
			done
		done
		stop_pid containerd; rm -f "$STATE/started.containerd"
	fi
	[ -f "$STATE/started.dockerd" ] && { stop_pid dockerd; rm -f "$STATE/started.dockerd"; }
	return 0
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
