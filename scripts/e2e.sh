#!/usr/bin/env bash
# End-to-end suite: the parjarm binary between a real legacy authorization
# server (node oidc-provider, PAR and JARM off) and a real client library
# (oauth4webapi), with a private redis-server and headless Chromium.
#
# Usage (from anywhere): scripts/e2e.sh [test files...]
#   default: every e2e/test/*.test.mjs
# Environment: E2E_TIMEOUT (seconds for the whole run, default 900),
#              E2E_TEST_TIMEOUT_MS (per test, default 180000),
#              E2E_SKIP_INSTALL=1 (skip apt-get and npm ci), E2E_SKIP_BUILD=1.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

die() { echo "e2e: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 20.19 is required; e.g. apt-get install -y nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (e.g. apt-get install -y npm)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js >= 20.19 is required, found $(node --version)"
command -v go >/dev/null 2>&1 || die "go is not installed (needed to build bin/parjarm)"

apt_install() {
  if [ "${E2E_SKIP_INSTALL:-}" = 1 ]; then die "$1 is missing and E2E_SKIP_INSTALL=1"; fi
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing and apt-get is not available: install $2 yourself"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "$1 is missing; run as root or install $2"
    sudo="sudo"
  fi
  echo "e2e: installing $2 with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}

command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-server
# Debian's chromium; playwright-core never downloads a browser here.
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || apt_install chromium chromium

if [ "${E2E_SKIP_INSTALL:-}" != 1 ]; then
  echo "e2e: npm ci" >&2
  (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "${E2E_SKIP_BUILD:-}" != 1 ]; then
  echo "e2e: go build -o bin/parjarm ./cmd/parjarm" >&2
  go build -o bin/parjarm ./cmd/parjarm
fi

if [ "$#" -gt 0 ]; then
  tests=("$@")
else
  tests=(e2e/test/*.test.mjs)
fi

rm -rf e2e/artifacts
mkdir -p e2e/artifacts
start=$(date +%s)
set +e
PARJARM_BIN="$root/bin/parjarm" timeout --kill-after=10 "${E2E_TIMEOUT:-900}" \
  node --test --test-concurrency=1 --test-timeout="${E2E_TEST_TIMEOUT_MS:-180000}" --test-reporter=spec "${tests[@]}"
rc=$?
set -e
echo "e2e: finished in $(( $(date +%s) - start ))s with exit code $rc (screenshots in e2e/artifacts/)" >&2
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "e2e: the suite hit its global timeout of ${E2E_TIMEOUT:-900}s" >&2; fi
exit "$rc"
