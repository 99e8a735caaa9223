#!/usr/bin/env bash
# What the step watchdog costs: 200 trivial bash steps with the watchdog
# (the default) and without it (RUNBOOK_WATCHDOG=0), best of 5 each,
# alternating; the ratio is with / without.
#
# usage: tests/bench/watchdog.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
{
  echo "# 200 steps"
  for i in $(seq 200); do printf '\n```bash\necho step %d\n```\n' "$i"; done
} > steps.md
ms() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
with=999999; without=999999
for _ in 1 2 3 4 5; do
  a=$(ms "$bin" run --no-audit steps.md); [ "$a" -lt "$with" ] && with=$a
  b=$(ms env RUNBOOK_WATCHDOG=0 "$bin" run --no-audit steps.md); [ "$b" -lt "$without" ] && without=$b
done
printf '200 trivial bash steps, best of 5:\n'
printf '  with the watchdog:     %6d ms\n  without (RUNBOOK_WATCHDOG=0): %6d ms\n' "$with" "$without"
printf '  ratio with / without:  %.3f\n' "$(echo "$with / $without" | bc -l)"
