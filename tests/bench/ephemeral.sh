#!/usr/bin/env bash
# How soon --ephemeral-db's throwaway server accepts connections: "ready" is
# what runbook says ("ready in 0.21s", from the start of the data directory
# to the first answer), "run" the wall time of a one-step runbook (SELECT 1)
# from exec to exit. Best of N (BENCH_N, default 5), the kinds interleaved,
# each run after a sync (what the run before left to write back is not its cost):
#   cold    --no-cache: initdb every time
#   first   an empty cache: initdb, and the template kept for later runs
#   warm    a copy of the cached template
#   before  BASELINE, when given: a runbook built from an earlier version
#           (initdb every time), e.g. from `git archive HEAD`
# Budget: warm ready within EPHEMERAL_BUDGET_MS (default 350) on a release
# build; the script fails when it is over.
#
# usage: tests/bench/ephemeral.sh BINARY [BASELINE]
set -euo pipefail
bin=$(realpath "$1")
base=${2:+$(realpath "$2")}
n=${BENCH_N:-5}
budget=${EPHEMERAL_BUDGET_MS:-350}
. "$(dirname "$0")/table.sh"
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -m 755 "$work/tmp"
printf '# one\n\n```sql\nSELECT 1;\n```\n' > "$work/one.md"
chmod 644 "$work/one.md"
export TMPDIR=$work/tmp

# measure KIND BINARY [ARGS...]: one run; appends "READY_MS RUN_MS" to $work/KIND.
measure() {
  local kind=$1 exe=$2 t0 t1 ready
  shift 2
  sync # the last run's writeback is not this one's cost
  t0=$(date +%s%N)
  "$exe" run --no-audit --ephemeral-db "$@" "$work/one.md" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  t1=$(date +%s%N)
  ready=$(sed -n 's/.*PostgreSQL ready in \([0-9]*\)\.\([0-9]*\)s.*/\1\2/p' "$work/out")
  echo "$(( 10#$ready * 10 )) $(( (t1 - t0) / 1000000 ))" >> "$work/t.$kind"
}
best() { sort -n -k"$2" "$work/t.$1" | head -1 | cut -d' ' -f"$2"; }

RUNBOOK_PG_CACHE=$work/warm measure prime "$bin" # makes the template the warm runs copy
for _ in $(seq "$n"); do
  RUNBOOK_PG_CACHE=$work/never measure cold "$bin" --no-cache
  rm -rf "$work/first"
  RUNBOOK_PG_CACHE=$work/first measure first "$bin"
  RUNBOOK_PG_CACHE=$work/warm measure warm "$bin"
  [ -z "$base" ] || measure before "$base"
done

printf 'throwaway server, best of %d     ready      run\n' "$n"
kinds="cold first warm"
[ -z "$base" ] || kinds="before $kinds"
for k in $kinds; do printf '  %-28s %6d ms %6d ms\n' "$k" "$(best "$k" 1)" "$(best "$k" 2)"; done
ratio() { printf '  %-28s %6.2f   %8.2f\n' "$1 / $2" "$(echo "$(best "$1" 1) / $(best "$2" 1)" | bc -l)" \
  "$(echo "$(best "$1" 2) / $(best "$2" 2)" | bc -l)"; }
ratio warm cold
if [ -n "$base" ]; then
  ratio cold before
  ratio first before
  ratio warm before
fi
bench_row "--ephemeral-db ready, warm cache (vs --no-cache: initdb)" "$(best warm 1) ms" "$(best cold 1) ms" \
  "$(bench_ratio "$(best warm 1)" "$(best cold 1)")" "warm <= $budget ms"
bench_row "--ephemeral-db first run, keeps the template (vs --no-cache)" "$(best first 2) ms" "$(best cold 2) ms" \
  "$(bench_ratio "$(best first 2)" "$(best cold 2)")" ""
[ "$(best warm 1)" -le "$budget" ] || { echo "warm: over the budget of $budget ms"; exit 1; }
