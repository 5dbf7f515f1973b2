#!/usr/bin/env bash
# The whole parjarm test suite: formatting, vet, unit and integration tests
# (with the race detector, against a real redis-server each test starts
# itself), the Helm chart rendered and strictly decoded for each of its value
# sets with the dashboard and alert rules checked against the exported metrics,
# bounded fuzzing of every parser of untrusted input, the static
# build the Dockerfile makes, the compose file check, and the end-to-end suite
# (real oidc-provider upstream, real oauth4webapi client, headless Chromium)
# and the README's demo, once.
#
# Usage: scripts/test.sh
# Environment: FUZZTIME (per fuzz target, default 5s), SKIP_E2E=1 to skip the
# end-to-end suite, SKIP_FUZZ=1 to skip fuzzing.
# SKIP_SOAK=1 skips the 30-second soak (scripts/soak.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "test: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

apt_install() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing: install the Debian package $2 (apt-get install -y $2)"
  [ "$(id -u)" = 0 ] || die "$1 is missing: run 'sudo apt-get install -y $2'"
  echo "test: installing $2 with apt-get" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  command -v "$1" >/dev/null 2>&1 || die "$1 is still missing after installing $2"
}

command -v go >/dev/null 2>&1 || die "go is not installed (Go $(sed -n 's/^go //p' go.mod) is required)"
# Store and gateway tests start their own redis-server on a free port.
apt_install redis-server redis-server

# The Hydra tools module's dependencies download in the background while the
# Go steps run: on a fresh machine that is network time, not CPU, and it would
# otherwise come later, in series, when the end-to-end step builds Hydra. The
# go command serialises on the module cache, so nothing waits for it.
prefetch_log=$(mktemp)
(cd e2e/hydra && go mod download) >"$prefetch_log" 2>&1 &
prefetch=$!
trap 'kill "$prefetch" 2>/dev/null || true' EXIT

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/*'))
[ -z "$unformatted" ] || die "not gofmt-clean: $unformatted"

step "go vet"
go vet ./...

# A module of its own (Helm and the Kubernetes API types stay out of the gateway's
# go.mod), so the root's go vet ./... and go test ./... do not reach it.
# SKIP_HELM=1 skips it.
if [ "${SKIP_HELM:-}" != 1 ]; then
  step "Helm chart, dashboard and alert rules (deploy/helm/test)"
  (cd deploy/helm/test && go vet ./... && go test -count=1 ./...)
fi

step "go test -race"
go test -race -count=1 ./...

if [ "${SKIP_FUZZ:-}" != 1 ]; then
  step "fuzz (${FUZZTIME:-5s} per target)"
  # Every Fuzz function in the module, each for a bounded time.
  grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | sort | while read -r file; do
    pkg="./$(dirname "${file#./}")"
    for fn in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
      echo "-- $pkg $fn"
      if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${FUZZTIME:-5s}" -fuzzminimizetime 5s "$pkg" >/tmp/parjarm-fuzz.log 2>&1; then
        # Go 1.26's fuzz coordinator can report "context deadline exceeded"
        # as the -fuzztime window closes, with no input found (golang/go
        # issue 75804, fixed in Go 1.27). A finding always writes its input.
        if grep -q 'context deadline exceeded' /tmp/parjarm-fuzz.log && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' /tmp/parjarm-fuzz.log; then
          echo "   (the fuzz window closed with Go's deadline race, golang/go#75804; no input was found)"
        else
          cat /tmp/parjarm-fuzz.log; die "fuzz target $fn in $pkg failed"
        fi
      fi
    done
  done
fi

step "static build (as in the Dockerfile)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/parjarm ./cmd/parjarm
if command -v ldd >/dev/null 2>&1 && ldd bin/parjarm >/dev/null 2>&1; then
  die "bin/parjarm is dynamically linked"
fi
./bin/parjarm version

if [ "${SKIP_SOAK:-}" != 1 ]; then
  # The 30-second soak (SKIP_SOAK=1 skips it): steady load on the static
  # binary above, Redis restarted twice. scripts/soak.sh runs the long one.
  step "soak (30 s, scripts/soak.sh)"
  DURATION=30s SOAK_SKIP_BUILD=1 scripts/soak.sh >/tmp/parjarm-soak.log 2>&1 \
    || { cat /tmp/parjarm-soak.log; die "the 30-second soak failed"; }
  grep -E '^(total |all requests |answers 500:|RSS |goroutines )' /tmp/parjarm-soak.log
fi

step "docker-compose config"
apt_install docker-compose docker-compose
docker-compose -f docker-compose.yml config -q

if [ "${SKIP_E2E:-}" != 1 ]; then
  # A failed prefetch is no failure: the Hydra build fetches again and says
  # why it cannot.
  wait "$prefetch" || echo "test: prefetching Hydra's modules failed (the build fetches them again): $(tail -n 3 "$prefetch_log")" >&2
  step "end-to-end"
  E2E_SKIP_BUILD=1 scripts/e2e.sh

  step "demo (scripts/demo.sh --once)"
  timeout 180 scripts/demo.sh --once >/tmp/parjarm-demo.log 2>&1 \
    || { cat /tmp/parjarm-demo.log; die "the demo failed"; }
  grep -q "The flow completed" /tmp/parjarm-demo.log || { cat /tmp/parjarm-demo.log; die "the demo did not complete its flow"; }
  echo "demo: the PAR + JARM flow completed"
fi

echo
echo "test: all checks passed"
