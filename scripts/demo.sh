#!/usr/bin/env bash
# Quick start: the legacy upstream (node oidc-provider without PAR and JARM),
# the parjarm gateway in front of it (embedded memory store, development
# signing key), and one PAR + JARM flow printed step by step. Stays up until
# Ctrl-C; `scripts/demo.sh --once` exits after the flow (used by CI).
#
# Options are passed to e2e/demo.mjs: --once, --verbose.
set -euo pipefail

cd "$(dirname "$0")/.."

die() { echo "demo: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 20.19 is required)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
command -v go >/dev/null 2>&1 || die "go is not installed (needed to build bin/parjarm)"

echo "demo: npm ci (e2e/)" >&2
(cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
echo "demo: go build -o bin/parjarm ./cmd/parjarm" >&2
go build -o bin/parjarm ./cmd/parjarm

PARJARM_BIN="$(pwd)/bin/parjarm" exec node e2e/demo.mjs "$@"
