#!/usr/bin/env bash
# What the pre-flight adds before step 1 of the demo's staging runbook:
#  1. its own cost: `runbook check` (the same checks, without shellcheck)
#     against `runbook list` (parse only), best of 10;
#  2. end to end: `run --ephemeral-db` with and without --no-preflight,
#     median of 5 each (noisy: a throwaway server starts each time).
# Baseline for the ratio: the whole staging run.
#
# usage: tests/bench/preflight.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
rb=$here/runbooks/ehg-staging.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
nosc=$work/path
mkdir -p "$nosc"
# PATH without shellcheck, so check does exactly what the pre-flight does.
for t in bash sh; do ln -s "$(command -v $t)" "$nosc/$t"; done

ms() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N); echo $(( (t1 - t0) / 100000 )); }
best() { local b=999999999 d; for _ in $(seq "$1"); do d=$(ms "${@:2}"); [ "$d" -lt "$b" ] && b=$d; done; echo "$b"; }
median() { sort -n | sed -n "$(( ($1 + 1) / 2 ))p"; }
tenths() { awk -v t="$1" 'BEGIN { printf "%.1f", t / 10 }'; }

check=$(best 10 env PATH="$nosc" "$bin" check "$rb")
list=$(best 10 env PATH="$nosc" "$bin" list "$rb")
own=$(( check - list ))
printf 'pre-flight of runbooks/ehg-staging.md (its own cost):\n'
printf '  runbook check:  %s ms\n  runbook list:   %s ms (parse only)\n  pre-flight:     %s ms\n' \
  "$(tenths "$check")" "$(tenths "$list")" "$(tenths "$own")"

with=$(for _ in 1 2 3 4 5; do ms "$bin" run --no-audit --ephemeral-db "$rb"; done | median 5)
without=$(for _ in 1 2 3 4 5; do ms "$bin" run --no-audit --no-preflight --ephemeral-db "$rb"; done | median 5)
printf 'whole staging run on a throwaway server (median of 5):\n'
printf '  with pre-flight:    %s ms\n  --no-preflight:     %s ms\n  difference:         %s ms\n' \
  "$(tenths "$with")" "$(tenths "$without")" "$(tenths $(( with - without )))"
printf '  pre-flight / whole run: %.3f\n' "$(echo "$own / $with" | bc -l)"
