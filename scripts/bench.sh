#!/usr/bin/env bash
# Runs the benchmarks of issue 6 (P1–P5) in one process, side by side, and
# writes docs/BENCHMARKS.md. Needs the components of scripts/services.sh
# (PostgreSQL, Docker, redis-server binary; RTMANAGER_TEST_* variables set):
#   eval "$(scripts/services.sh up)"; scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RTMANAGER_TEST_POSTGRES_URL:?run: eval \"\$(scripts/services.sh up)\" first}"
: "${RTMANAGER_TEST_DOCKER_HOST:?run: eval \"\$(scripts/services.sh up)\" first}"
export CI=true # a missing component fails instead of skipping
export BENCH_OUT="$PWD/docs/BENCHMARKS.md"
go test -tags bench -run '^TestReport$' -count=1 -timeout 30m -v ./e2e/bench 2>&1 | grep -v '^\s*{"time' | tail -n 200
echo "wrote $BENCH_OUT"
