#!/usr/bin/env bash
# The cost of the event stream and its sinks, against a binary from before
# them (or any other build): the same 200 trivial bash steps and the same
# step printing 1 GiB, each run by both binaries alternately, to /dev/null
# (the default sinks: the terminal; no audit record, whose cost is
# audit-commit.sh's). Best of 7 runs for the 200 steps, of 3 for the 1 GiB.
# Prints both times and the ratio new / baseline; the goal is <= 1.02.
#
# usage: tests/bench/sinks.sh BINARY BASELINE-BINARY
#   a baseline from an earlier commit:
#   git worktree add /tmp/base REV && cmake -S /tmp/base -B /tmp/base/build \
#     -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/base/build --target runbook
set -euo pipefail
bin=$(realpath "$1")
base=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

best_pair() { # best_pair RUNS ARGS...: best wall ms of bin and of base, runs interleaved
  local runs=$1 b1=999999999 b2=999999999 t0 t1 d
  shift
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N); "$bin" "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N)
    d=$(( (t1 - t0) / 1000000 )); [ "$d" -lt "$b1" ] && b1=$d
    t0=$(date +%s%N); "$base" "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N)
    d=$(( (t1 - t0) / 1000000 )); [ "$d" -lt "$b2" ] && b2=$d
  done
  echo "$b1 $b2"
}
report() { # report WHAT NEW BASE
  printf '%s:\n  this build:  %6d ms\n  baseline:    %6d ms\n  ratio:       %6.3f  (goal <= 1.02)\n\n' \
    "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"
}

{
  echo "# 200 steps"
  for i in $(seq 200); do printf '\n```bash\necho step %d\n```\n' "$i"; done
} > steps.md
read -r new old <<< "$(best_pair 7 run --no-audit steps.md)"
report "200 trivial bash steps" "$new" "$old"

printf '# 1 GiB\n\n```bash\nhead -c 1073741824 /dev/zero\n```\n' > big.md
read -r new old <<< "$(best_pair 3 run --no-audit big.md)"
report "a step printing 1 GiB" "$new" "$old"
