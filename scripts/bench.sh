#!/usr/bin/env bash
# Runs every benchmark of the module and records the results.
#
# The raw `go test -bench` output goes to bench/results/<UTC YYYY-MM-DD-HHMM>.txt,
# preceded by a header (as `#` comment lines, which benchstat ignores) that
# records the command, the Go version, the kernel, the CPU, the core count,
# the git commit and the load average before and after the run. If an
# earlier results file exists, the new one is compared with the latest
# earlier one by benchstat, into bench/results/<date>.benchstat.txt.
#
# This is not part of the test suite (scripts/test.sh): it takes minutes.
# Other processes running at the same time change the numbers; the load
# averages in the header say how busy the machine was.
#
# Usage: scripts/bench.sh
# Environment: BENCH_COUNT (runs of each benchmark, default 5),
# BENCH_TIME (go test -benchtime, default 1s).
#
# Usage: scripts/bench.sh compare
# The side-by-side benchmark (bench/compare): the built gateway against node
# oidc-provider with its own PAR and JARM, and against a bare
# httputil.ReverseProxy, alternating in one run on 127.0.0.1; its output
# goes to bench/results/<UTC YYYY-MM-DD-HHMM>-compare.txt with the same kind
# of header plus the node, redis-server and oidc-provider versions.
# Environment: COMPARE_DURATION (one measured run, default 10s), COMPARE_REPS
# (repetitions per system and scenario, default 2), COMPARE_CONNS
# (connections, default 64), COMPARE_SCENARIOS (comma-separated, of push,
# flow, pass; default all three), CPU_PROFILE (also write a CPU profile of the
# gateway under the flow load there; read it with go tool pprof -top
# bin/parjarm FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "bench: $*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
commit_of() {
  local c
  c=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || c="$c (with uncommitted changes)"
  echo "$c"
}

if [ "${1:-}" = compare ]; then
  command -v go >/dev/null 2>&1 || die "go is not installed"
  command -v redis-server >/dev/null 2>&1 || die "redis-server is missing: install it with 'apt-get install -y redis-server'"
  command -v node >/dev/null 2>&1 || die "node is missing (the peer is node oidc-provider)"
  [ -f e2e/node_modules/oidc-provider/package.json ] || die "e2e/node_modules is missing: run 'npm ci --prefix e2e'"
  mkdir -p bin bench/results
  CGO_ENABLED=0 go build -trimpath -o bin/parjarm ./cmd/parjarm
  go build -o bin/parjarm-compare ./bench/compare
  duration=${COMPARE_DURATION:-10s}
  reps=${COMPARE_REPS:-2}
  conns=${COMPARE_CONNS:-64}
  scenarios=${COMPARE_SCENARIOS:-push,flow,pass}
  out="bench/results/$(date -u +%Y-%m-%d-%H%M)-compare.txt"
  [ ! -e "$out" ] || die "$out already exists: wait a minute and run again"
  {
    echo "# parjarm compare, $(date -u +'%Y-%m-%d %H:%M:%S') UTC"
    echo "# command: COMPARE_DURATION=$duration COMPARE_REPS=$reps COMPARE_CONNS=$conns COMPARE_SCENARIOS=$scenarios${CPU_PROFILE:+ CPU_PROFILE=$CPU_PROFILE} scripts/bench.sh compare"
    echo "# commit: $(commit_of)"
    echo "# go: $(go version | cut -d' ' -f3-), node: $(node --version), redis: $(redis-server --version | cut -d' ' -f3)," \
      "oidc-provider: $(sed -n 's/^  "version": "\(.*\)",$/\1/p' e2e/node_modules/oidc-provider/package.json)"
    echo "# machine: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "# load average before: $(load)"
  } | tee "$out"
  status=0
  ./bin/parjarm-compare -gateway bin/parjarm -duration "$duration" -reps "$reps" -conns "$conns" -scenarios "$scenarios" \
    ${CPU_PROFILE:+-cpuprofile "$CPU_PROFILE"} 2>&1 | tee -a "$out" || status=$?
  echo "# load average after: $(load)" | tee -a "$out"
  echo "bench: results in $out" >&2
  exit "$status"
fi

command -v go >/dev/null 2>&1 || die "go is not installed (Go $(sed -n 's/^go //p' go.mod) is required)"
# The Redis store and flow benchmarks start their own redis-server on a free port.
command -v redis-server >/dev/null 2>&1 || die "redis-server is missing: install it with 'apt-get install -y redis-server'"

results=bench/results
mkdir -p "$results"
stamp=$(date -u +%Y-%m-%d-%H%M)
out="$results/$stamp.txt"
[ ! -e "$out" ] || die "$out already exists: wait a minute and run again"

# The latest earlier results file, if any (names sort by date).
previous=$(find "$results" -maxdepth 1 -name '*.txt' ! -name '*.benchstat.txt' ! -name '*-compare.txt' | sort | tail -n 1)

# Only the packages that have benchmarks.
mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Benchmark' . | grep -v -e node_modules -e '^./e2e/' \
  | xargs -n1 dirname | sort -u)
[ "${#pkgs[@]}" -gt 0 ] || die "no package has a benchmark"

count=${BENCH_COUNT:-5}
benchtime=${BENCH_TIME:-1s}
cmd=(go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" "${pkgs[@]}")
shown="go test -run '^\$' -bench . -benchmem -count $count -benchtime $benchtime ${pkgs[*]}"

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# parjarm benchmarks, $(date -u +'%Y-%m-%d %H:%M:%S') UTC"
  echo "# command: $shown"
  echo "# go version: $(go version)"
  echo "# kernel: $(uname -srm)"
  echo "# cpu model: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "# cores: $(nproc)"
  echo "# commit: $commit"
  echo "# load average before (1, 5, 15 min): $(load)"
  echo
} >"$tmp"

echo "bench: $shown" >&2
start=$(date +%s)
if ! "${cmd[@]}" 2>&1 | tee -a "$tmp"; then
  die "the benchmarks failed; nothing was recorded"
fi
{
  echo
  echo "# load average after (1, 5, 15 min): $(load)"
  echo "# duration: $(( $(date +%s) - start ))s"
} >>"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "bench: results in $out" >&2

[ -n "$previous" ] || { echo "bench: no earlier results to compare with" >&2; exit 0; }

benchstat=$(command -v benchstat || true)
gobin="$(go env GOPATH | cut -d: -f1)/bin"
[ -n "$benchstat" ] || [ ! -x "$gobin/benchstat" ] || benchstat="$gobin/benchstat"
if [ -z "$benchstat" ]; then
  echo "bench: installing benchstat (go install golang.org/x/perf/cmd/benchstat@latest)" >&2
  if GOBIN="$gobin" go install golang.org/x/perf/cmd/benchstat@latest; then
    benchstat="$gobin/benchstat"
  else
    echo "bench: NOTE: benchstat could not be installed; skipping the comparison with $previous." >&2
    echo "bench: compare by hand later: benchstat $previous $out" >&2
    exit 0
  fi
fi
cmp="$results/$stamp.benchstat.txt"
"$benchstat" "$(basename "$previous" .txt)=$previous" "$stamp=$out" | tee "$cmp"
echo "bench: comparison with $previous in $cmp" >&2
