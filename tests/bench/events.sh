#!/usr/bin/env bash
# The cost of the JSON events (docs/events.md): a generated runbook of 200
# trivial bash steps run without and with `--events FILE` (and, for
# reference, with `--events FILE --events-output`): the best wall and CPU
# times of 5 interleaved rounds, all without the audit record (--no-audit,
# measured by audit-commit.sh). The target: under 5 % overhead for --events.
#
# usage: tests/bench/events.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Rounds interleave the variants, so that a busy machine slows them alike;
# the best wall time of each over the rounds, and its CPU time (user + system,
# runbook and its steps), which the load of the machine disturbs less.
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
declare -A wall cpu
measure() { # measure NAME ARGS...: one run; NAME keeps its least wall and least CPU time
  local name=$1 w c
  shift
  read -r w c <<< "$(/usr/bin/time -f '%e %U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%d %d", $1 * 1000, ($2 + $3) * 1000}')"
  if [ -z "${wall[$name]:-}" ] || [ "$w" -lt "${wall[$name]}" ]; then wall[$name]=$w; fi
  if [ -z "${cpu[$name]:-}" ] || [ "$c" -lt "${cpu[$name]}" ]; then cpu[$name]=$c; fi
}

{
  echo "# 200 steps"
  for i in $(seq 200); do printf '\n```bash\necho step %d\n```\n' "$i"; done
} > steps.md

# One run first: the stream must be whole (a step_end for each step) or the numbers mean nothing.
"$bin" run --no-audit --events events.jsonl steps.md > /dev/null 2>&1
ends=$(grep -c '"event":"step_end"' events.jsonl)
[ "$ends" = 200 ] || { echo "expected 200 step_end events, got $ends"; exit 1; }

for _ in 1 2 3 4 5; do
  measure plain "$bin" run --no-audit steps.md
  measure events "$bin" run --no-audit --events events.jsonl steps.md
  measure output "$bin" run --no-audit --events events.jsonl --events-output steps.md
done
ratio() { echo "$1 / $2" | bc -l; }
row() { # row LABEL NAME
  printf '  %-50s %6d ms wall (%.3f)  %6d ms cpu (%.3f)\n' "$1" "${wall[$2]}" "$(ratio "${wall[$2]}" "${wall[plain]}")" \
    "${cpu[$2]}" "$(ratio "${cpu[$2]}" "${cpu[plain]}")"
}
printf 'JSON events, 200 trivial bash steps, best of 5 (ratio to the plain run; target < 1.05 for --events):\n'
row "runbook run" plain
row "runbook run --events FILE" events
row "runbook run --events FILE --events-output" output
printf '  events written: %d lines, %d bytes\n' "$(wc -l < events.jsonl)" "$(wc -c < events.jsonl)"

# The output streams through: a step printing 256 MiB, its chunks in the events or not;
# peak memory must stay flat (nothing accumulates). Best time and highest peak of 3 runs each.
printf '# 256 MiB\n\n```bash\nhead -c 268435456 /dev/zero | tr "\\\\0" x\n```\n' > big.md
printf 'a step printing 256 MiB, to /dev/null, best of 3:\n'
for opts in "" "--events events.jsonl" "--events events.jsonl --events-output"; do
  best=999999 peak=0
  for _ in 1 2 3; do
    read -r secs kb <<< "$(/usr/bin/time -f '%e %M' "$bin" run --no-audit $opts big.md 2>&1 >/dev/null | tail -1)"
    ms=$(echo "$secs * 1000 / 1" | bc)
    [ "$ms" -lt "$best" ] && best=$ms
    [ "$kb" -gt "$peak" ] && peak=$kb
  done
  printf '  %-50s %6d ms  peak %5.1f MiB\n' "runbook run $opts" "$best" "$(echo "$peak / 1024" | bc -l)"
done
printf '  events written with the output: %d lines, %d MiB\n' "$(wc -l < events.jsonl)" "$(( $(wc -c < events.jsonl) / 1048576 ))"
