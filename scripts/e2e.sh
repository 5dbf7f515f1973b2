#!/usr/bin/env bash
# End-to-end suite: the parjarm binary between a real legacy authorization
# server (node oidc-provider, PAR and JARM off) and a real client library
# (oauth4webapi, and openid-client v5 in e2e/test/openid-client.test.mjs;
# over mutual TLS with a client certificate in e2e/test/mtls.test.mjs),
# with a private redis-server and headless Chromium; and in front of ORY
# Hydra (every test file that imports e2e/lib/hydra.mjs), built once by
# scripts/hydra.sh and run on a fresh database of the local PostgreSQL.
#
# Usage (from anywhere): scripts/e2e.sh [test files...]
#   default: every e2e/test/*.test.mjs
# Environment: E2E_TIMEOUT (seconds for the whole run, default 900),
#              E2E_TEST_TIMEOUT_MS (per test, default 180000),
#              E2E_SKIP_INSTALL=1 (skip apt-get and npm ci), E2E_SKIP_BUILD=1,
#              HYDRA_BIN (a Hydra binary to use instead of building one),
#              PGHOST, PGPORT, PGUSER, PGPASSWORD (PostgreSQL for Hydra;
#              default 127.0.0.1:5432, user postgres, trust authentication).
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
# The mutual TLS world's test certificates (e2e/lib/pki.mjs).
command -v openssl >/dev/null 2>&1 || apt_install openssl openssl
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

# Hydra's tests need PostgreSQL and the Hydra binary; only when a selected
# file is named after Hydra or starts a Hydra world (imports lib/hydra.mjs).
hydra_selected() {
  local t
  for t in "${tests[@]}"; do
    case "$(basename "$t")" in *hydra*) return 0 ;; esac
    grep -q "lib/hydra\.mjs" "$t" 2>/dev/null && return 0
  done
  return 1
}
pg_up() {
  psql -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}" -d postgres -qAtc 'select 1' >/dev/null 2>&1
}
if hydra_selected; then
  command -v psql >/dev/null 2>&1 \
    || die "psql is missing: the Hydra tests need PostgreSQL on ${PGHOST:-127.0.0.1}:${PGPORT:-5432} (e.g. apt-get install -y postgresql, trust or PGPASSWORD for user ${PGUSER:-postgres}); or leave out e2e/test/hydra.test.mjs"
  if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "e2e: PostgreSQL is not answering; starting its cluster with pg_ctlcluster" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    for v in $(ls /etc/postgresql); do
      $sudo pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    done
    for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  fi
  pg_up || die "PostgreSQL is not reachable with psql -h ${PGHOST:-127.0.0.1} -p ${PGPORT:-5432} -U ${PGUSER:-postgres} (the Hydra tests create and drop a database there); start it, or leave out e2e/test/hydra.test.mjs"
  HYDRA_BIN=$(scripts/hydra.sh) || die "cannot build ORY Hydra (scripts/hydra.sh failed, see above)"
  export HYDRA_BIN
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
