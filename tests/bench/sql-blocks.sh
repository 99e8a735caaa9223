#!/usr/bin/env bash
# One-statement SQL blocks against psql: a runbook of 2,000 sql blocks of one
# INSERT each (the default transaction=single: runbook adds BEGIN, its
# limits and COMMIT around each), run over one connection, against one
# `psql -X -f` of the same 2,000 statements, on the same throwaway server.
# Both print what they print by default (psql a command tag per statement;
# runbook a header, the tag and a status line per step); `psql -X -q -f`
# and `runbook run --quiet`, which print neither, are measured too.
# Runs alternate (runbook, psql, runbook, psql, ...) so that other work on
# the machine weighs on both alike; the best of 5 of each is reported.
# With a second binary (an older build), it runs in the same rotation and
# its ratio is printed too: before and after, side by side.
#
# usage: tests/bench/sql-blocks.sh BINARY [BASELINE_BINARY]
#   BENCH_SQL_BLOCKS  blocks (2000)    BENCH_ROUNDS  runs of each (5)
set -euo pipefail
bin=$(realpath "$1")
base=${2:+$(realpath "$2")}
n=${BENCH_SQL_BLOCKS:-2000}
rounds=${BENCH_ROUNDS:-5}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/table.sh"
bench_server "$bin"
psql -Xq "$url" -c 'CREATE TABLE bench (id int, v text)'

{
  echo "# $n one-statement sql blocks"
  for i in $(seq "$n"); do
    printf '\n```sql\nINSERT INTO bench VALUES (%d, md5(%d::text));\n```\n' "$i" "$i"
  done
} > "$work/blocks.md"
for i in $(seq "$n"); do
  printf 'INSERT INTO bench VALUES (%d, md5(%d::text));\n' "$i" "$i"
done > "$work/blocks.sql"

secs() { # wall time in seconds of "$@", the table emptied first
  local t0 t1
  psql -Xq "$url" -c 'TRUNCATE bench'
  t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N)
  echo "($t1 - $t0) / 1000000000" | bc -l
}
min() { if (( $(echo "$2 < $1" | bc -l) )); then echo "$2"; else echo "$1"; fi; }
best_rb=999999 best_psql=999999 best_base=999999 best_rbq=999999 best_psqlq=999999
for _ in $(seq "$rounds"); do
  best_rb=$(min "$best_rb" "$(secs "$bin" run --no-audit --db "$url" "$work/blocks.md")")
  [ "$(psql -XAtq "$url" -c 'SELECT count(*) FROM bench')" = "$n" ] || { echo "runbook did not insert $n rows"; exit 1; }
  best_psql=$(min "$best_psql" "$(secs psql -X "$url" -v ON_ERROR_STOP=1 -f "$work/blocks.sql")")
  best_rbq=$(min "$best_rbq" "$(secs "$bin" run --quiet --no-audit --db "$url" "$work/blocks.md")")
  best_psqlq=$(min "$best_psqlq" "$(secs psql -X -q "$url" -v ON_ERROR_STOP=1 -f "$work/blocks.sql")")
  if [ -n "$base" ]; then
    best_base=$(min "$best_base" "$(secs "$base" run --no-audit --db "$url" "$work/blocks.md")")
  fi
done
printf 'sql blocks: %d blocks of one statement, best of %d\n' "$n" "$rounds"
printf '  runbook run (one connection):  %8.3f s\n' "$best_rb"
printf '  psql -X -f (one file):         %8.3f s\n' "$best_psql"
printf '  ratio runbook / psql -f:       %8.2f  (target <= 1.2)\n' "$(echo "$best_rb / $best_psql" | bc -l)"
printf '  runbook run --quiet:           %8.3f s\n' "$best_rbq"
printf '  psql -X -q -f:                 %8.3f s\n' "$best_psqlq"
printf '  ratio quiet / quiet:           %8.2f\n' "$(echo "$best_rbq / $best_psqlq" | bc -l)"
bench_row "$n one-statement sql blocks (vs psql -X -f)" "$(printf '%.0f' "$(echo "$best_rb * 1000" | bc -l)") ms" \
  "$(printf '%.0f' "$(echo "$best_psql * 1000" | bc -l)") ms" "$(bench_ratio "$best_rb" "$best_psql")" "<= 1.2"
if [ -n "$base" ]; then
  printf '  baseline %s:\n' "$base"
  printf '    runbook run:                 %8.3f s\n' "$best_base"
  printf '    ratio baseline / psql -f:    %8.2f\n' "$(echo "$best_base / $best_psql" | bc -l)"
fi
