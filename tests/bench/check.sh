#!/usr/bin/env bash
# `runbook check` on each shipped runbook (runbooks/*.md), best of 5, in
# milliseconds: every SQL statement goes through PostgreSQL's parser and the
# lint rules, so this is what that costs. Shellcheck is left out (PATH holds
# only bash and sh), as in the run's pre-flight. Budget: 100 ms a runbook
# on a release build; the script fails when one is over.
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
for rb in "$@"; do
  best=999999
  for _ in 1 2 3 4 5; do d=$(ms "$bin" check "$rb"); [ "$d" -lt "$best" ] && best=$d; done
  printf '%6d ms  %s\n' "$best" "${rb#"$here"/}"
  [ "$best" -le "$budget" ] || over=1
done
[ "$over" = 0 ] || { echo "over the budget of $budget ms"; exit 1; }
