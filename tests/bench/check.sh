#!/usr/bin/env bash
# `runbook check` on each shipped runbook (runbooks/*.md), best of 5, in
# milliseconds: every SQL statement goes through PostgreSQL's parser and the
# lint rules, and every shell block through bash -n (side by side). Shellcheck
# is left out (PATH holds only bash and sh), as in the run's pre-flight.
# "cold": no verdict cache (RUNBOOK_CACHE_DIR=off), every block to bash -n;
# "warm": checked before and unchanged (checkcache.h), the authoring loop.
# For scale, "start" is `runbook --version`: the process start alone (on a
# virtual machine with costly page faults it is most of the time).
# Budget: 100 ms a runbook, warm, on a release build; the script fails when
# one is over.
#
# usage: tests/bench/check.sh BINARY [RUNBOOK...]
set -euo pipefail
bin=$(realpath "$1")
shift
here=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- "$here"/runbooks/*.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in bash sh; do ln -s "$(command -v $t)" "$work/$t"; done
budget=${CHECK_BUDGET_MS:-100}

ms() { local t0 t1; t0=$(date +%s%N); env PATH="$work" "$@" > /dev/null 2>&1 || true; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
over=0
best_of() { local best=999999 d; for _ in 1 2 3 4 5; do d=$(ms "$@"); [ "$d" -lt "$best" ] && best=$d; done; echo "$best"; }
printf '%6s %6s %6s\n' cold warm start
start=$(best_of "$bin" --version)
for rb in "$@"; do
  cold=$(best_of RUNBOOK_CACHE_DIR=off "$bin" check "$rb")
  warm=$(best_of RUNBOOK_CACHE_DIR="$work/cache" "$bin" check "$rb")
  printf '%6d %6d %6d ms  %s\n' "$cold" "$warm" "$start" "${rb#"$here"/}"
  [ "$warm" -le "$budget" ] || over=1
done
[ "$over" = 0 ] || { echo "over the budget of $budget ms"; exit 1; }
