#!/usr/bin/env bash
# Builds ORY Hydra (the second real legacy upstream of the e2e suite) once,
# from the tools module e2e/hydra/ (go.mod pins the version with a `tool`
# directive and the pop replace Hydra's own go.mod needs), into a cache
# directory keyed by version; later runs reuse the binary.
#
# Usage: scripts/hydra.sh        prints the binary's path on stdout
# Environment: HYDRA_BIN (use this binary, build nothing),
#              XDG_CACHE_HOME (cache root, default ~/.cache).
set -euo pipefail

cd "$(dirname "$0")/../e2e/hydra"

die() { echo "hydra: $*" >&2; exit 1; }

if [ -n "${HYDRA_BIN:-}" ]; then
  [ -x "$HYDRA_BIN" ] || die "HYDRA_BIN=$HYDRA_BIN is not an executable file"
  echo "$HYDRA_BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not installed (needed to build Hydra)"
# The version from go.mod's require line (go list -m would need the modules).
version=$(awk '$1 == "github.com/ory/hydra/v2" { print $2 }' go.mod)
[ -n "$version" ] || die "e2e/hydra/go.mod requires no github.com/ory/hydra/v2"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/parjarm/hydra-$version"
bin="$dir/hydra"

if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo "hydra: building github.com/ory/hydra/v2@$version into $bin (first run only; takes minutes)" >&2
  start=$(date +%s)
  # Build to a temporary name so an interrupted build never leaves a
  # half-written binary that later runs would trust.
  CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
    -o "$bin.tmp.$$" github.com/ory/hydra/v2 \
    || { rm -f "$bin.tmp.$$"; die "go build of github.com/ory/hydra/v2@$version failed (the module proxy must be reachable on a first run; see the output above)"; }
  mv "$bin.tmp.$$" "$bin"
  echo "hydra: built in $(( $(date +%s) - start ))s" >&2
fi
echo "$bin"
