#!/usr/bin/env bash
# SQL steps against psql: a runbook of 500 small sql blocks run over one
# connection, against the same statements as one `psql -f` file and as 500
# `psql -c` calls (a process and a connection each). All three run against
# the same throwaway server; the best of 3 runs of each is reported.
#
# usage: tests/bench/sql-steps.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
n=${BENCH_SQL_BLOCKS:-500}
. "$(dirname "$0")/lib.sh"
# One server for all measurements: started by runbook itself and kept.
bench_server "$bin"
psql -Xq "$url" -c 'CREATE TABLE bench (id int, v text)'

{
  echo "# $n sql blocks"
  for i in $(seq "$n"); do
    printf '\n```sql\nINSERT INTO bench VALUES (%d, md5(%d::text));\nSELECT count(*) FROM bench WHERE id <= %d;\n```\n' "$i" "$i" "$i"
  done
} > "$work/bench.md"
for i in $(seq "$n"); do
  printf 'INSERT INTO bench VALUES (%d, md5(%d::text));\nSELECT count(*) FROM bench WHERE id <= %d;\n' "$i" "$i" "$i"
done > "$work/bench.sql"

best() { # best wall time in seconds of "$@" over 3 runs
  local b=999999 t0 t1 d
  for _ in 1 2 3; do
    psql -Xq "$url" -c 'TRUNCATE bench'
    t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
    d=$(echo "$t1 - $t0" | bc -l)
    if (( $(echo "$d < $b" | bc -l) )); then b=$d; fi
  done
  echo "$b"
}
psql_calls() {
  local i
  for i in $(seq "$n"); do
    psql -Xq "$url" -c "INSERT INTO bench VALUES ($i, md5($i::text)); SELECT count(*) FROM bench WHERE id <= $i;"
  done
}
rb=$(best "$bin" run --db "$url" "$work/bench.md")
one=$(best psql -Xq "$url" -v ON_ERROR_STOP=1 -f "$work/bench.sql")
printf 'sql blocks: %d blocks, 2 statements each\n' "$n"
printf '  runbook run (one connection):  %8.3f s\n' "$rb"
printf '  psql -f (one file):            %8.3f s\n' "$one"
printf '  ratio runbook / psql -f:       %8.2f  (target <= 1.5)\n' "$(echo "$rb / $one" | bc -l)"
# BENCH_SQL_SKIP_CALLS=1: not the N psql -c baseline (minutes for thousands of blocks).
if [ "${BENCH_SQL_SKIP_CALLS:-}" != 1 ]; then
  many=$(best psql_calls)
  printf '  %d x psql -c:                 %8.3f s\n' "$n" "$many"
  printf '  speed-up vs %d psql -c:       %8.1fx (target >= 10)\n' "$n" "$(echo "$many / $rb" | bc -l)"
fi
