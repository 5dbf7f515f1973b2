#!/usr/bin/env bash
# Soak test: drives the built gateway at a steady rate for a bounded time
# (PAR flows 40%, JARM flows 20%, pass-through 40%) against a private
# redis-server that is killed and restarted, empty, at 1/3 and 2/3 of the
# run, and reports requests, errors by kind, p50/p99 latencies, and the
# gateway's RSS and goroutines before and after. It fails on any 500, a hung
# request, goroutine growth once the run settles, or an error outside the
# Redis restart windows (the driver is bench/soak).
#
# Everything runs on 127.0.0.1 with free ports; every process it starts dies
# with it. Not part of the quick suite; scripts/test.sh runs a 30-second
# version.
#
# Usage: scripts/soak.sh
# Environment: DURATION (default 5m), RATE (scenarios per second, default
# 100), CONCURRENCY (default 64), SOAK_OUT (also write the report there),
# SOAK_SKIP_BUILD=1 (use an existing bin/parjarm), CPU_PROFILE (write a CPU
# profile of the gateway under load there; read it with go tool pprof -top
# bin/parjarm FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "soak: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not installed (Go $(sed -n 's/^go //p' go.mod) is required)"
command -v redis-server >/dev/null 2>&1 || die "redis-server is missing: install it with 'apt-get install -y redis-server'"

mkdir -p bin
if [ "${SOAK_SKIP_BUILD:-}" != 1 ] || [ ! -x bin/parjarm ]; then
  CGO_ENABLED=0 go build -trimpath -o bin/parjarm ./cmd/parjarm
fi
go build -o bin/parjarm-soak ./bench/soak

duration=${DURATION:-5m}
rate=${RATE:-100}
concurrency=${CONCURRENCY:-64}
load() { cut -d' ' -f1-3 /proc/loadavg; }

run() {
  echo "# parjarm soak, $(date -u +'%Y-%m-%d %H:%M:%S') UTC"
  echo "# command: DURATION=$duration RATE=$rate CONCURRENCY=$concurrency scripts/soak.sh"
  echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$( [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || echo ' (with uncommitted changes)')"
  echo "# go: $(go version | cut -d' ' -f3-), redis: $(redis-server --version | cut -d' ' -f3)"
  echo "# machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "# load average before: $(load)"
  status=0
  ./bin/parjarm-soak -gateway bin/parjarm -duration "$duration" -rate "$rate" -concurrency "$concurrency" \
    ${CPU_PROFILE:+-cpuprofile "$CPU_PROFILE"} || status=$?
  echo "# load average after: $(load)"
  return "$status"
}

if [ -n "${SOAK_OUT:-}" ]; then
  run 2>&1 | tee "$SOAK_OUT"
  exit "${PIPESTATUS[0]}"
fi
run
