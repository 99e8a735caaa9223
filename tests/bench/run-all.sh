#!/usr/bin/env bash
# Every benchmark, one after the other (`make bench`; not part of `make test`),
# each printing its own details; then one table of the headline figures:
# figure, runbook, baseline, ratio (runbook / baseline) and the goal.
# A benchmark that fails (a goal it checks itself is missed) is named at the
# end and makes the exit status 1; the others still run.
# usage: tests/bench/run-all.sh BINARY
set -uo pipefail
here=$(dirname "$0")
BENCH_TABLE=$(mktemp)
export BENCH_TABLE
trap 'rm -f "$BENCH_TABLE"' EXIT
failed=
for b in shell-steps sql-blocks sql-rows ephemeral plan-scale audit-scale sql-steps print audit-commit preflight \
         watchdog copy rollout audit-push; do
  echo "== $b"
  "$here/$b.sh" "$1" || failed="$failed $b"
  echo
done
echo "== summary ($(nproc) CPUs, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ))"
{
  printf 'figure\trunbook\tbaseline\tratio\tgoal\n'
  cat "$BENCH_TABLE"
} | awk -F '\t' '{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
  END { for (r = 1; r <= n; r++) { line = ""; for (i = 1; i <= 5; i++) line = line sprintf("%-" w[i] + 2 "s", cell[r, i]);
        sub(/ +$/, "", line); print line } }'
[ -z "$failed" ] || { echo "failed:$failed"; exit 1; }
