# shellcheck shell=bash
# Sourced by the benchmarks: bench_row adds one line to the table that
# run-all.sh (`make bench`) prints at the end, when BENCH_TABLE names its file.
#   bench_row FIGURE RUNBOOK BASELINE RATIO [GOAL]
# RUNBOOK and BASELINE carry their unit ("412 ms", "11.2 MiB"); RATIO is
# runbook / baseline; GOAL the acceptance bound on it, if any ("<= 1.2").
bench_row() {
  [ -n "${BENCH_TABLE:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >> "$BENCH_TABLE"
}
# ratio A B: A / B with two decimals
bench_ratio() { if [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then printf "%.2f" "$(echo "scale=4; $1 / $2" | bc -l)"; else echo "n/a"; fi; }
