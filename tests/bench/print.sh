#!/usr/bin/env bash
# Printing a large result against psql: a 1,000,000-row SELECT (an int, a
# text and a numeric column) printed whole (rows=all) by a sql step, and by
# `psql -X -P pager=off -c`, both to /dev/null, against the same throwaway
# server. Best wall time of 3 runs each, the ratio runbook / psql, and the
# peak RSS of each (GNU time's "Maximum resident set size"). Also the peak
# RSS of the same step with the default cap (rows=100), which receives the
# rows one at a time and keeps memory bounded.
#
# usage: tests/bench/print.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
n=${BENCH_PRINT_ROWS:-1000000}
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || { echo "print.sh needs GNU time (/usr/bin/time)"; exit 1; }
# One server for all measurements: started by runbook itself and kept.
bench_server "$bin"

q="SELECT g AS id, 'row ' || g AS label, g * 1.5 AS amount FROM generate_series(1, $n) g"
printf '# print\n\n```sql {name=big rows=all transaction=none}\n%s;\n```\n' "$q" > "$work/all.md"
printf '# print\n\n```sql {name=big transaction=none}\n%s;\n```\n' "$q" > "$work/capped.md"

# The same bytes first: the step's output between its header and its end line is psql's.
"$bin" run --no-audit --db "$url" "$work/all.md" | sed -e '1,2d' | sed -e '$d' | sed -e '$d' > "$work/rb.out"
psql -X -P pager=off -d "$url" -c "$q" > "$work/psql.out"
cmp -s "$work/rb.out" "$work/psql.out" || { echo "runbook's output differs from psql's"; exit 1; }
rm -f "$work/rb.out" "$work/psql.out"

measure() { # measure NAME COMMAND...: best seconds of 3 and the peak RSS in KB, into NAME_s and NAME_kb
  local name=$1 b=999999 kb=0 t
  shift
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null
    read -r t k < "$work/time"
    if (( $(echo "$t < $b" | bc -l) )); then b=$t; fi
    [ "$k" -gt "$kb" ] && kb=$k
  done
  printf -v "${name}_s" '%s' "$b"
  printf -v "${name}_kb" '%s' "$kb"
}
measure rb "$bin" run --no-audit --db "$url" "$work/all.md"
measure psql psql -X -P pager=off -d "$url" -c "$q"
measure capped "$bin" run --no-audit --db "$url" "$work/capped.md"

printf 'printing a %d-row result to /dev/null (best of 3):\n' "$n"
printf '  runbook, rows=all:     %6.2f s  peak RSS %7d KB\n' "$rb_s" "$rb_kb"
printf '  psql -c:               %6.2f s  peak RSS %7d KB\n' "$psql_s" "$psql_kb"
printf '  ratio runbook / psql:  %6.2f (target: at most 1.5)\n' "$(echo "$rb_s / $psql_s" | bc -l)"
printf '  runbook, rows=100:     %6.2f s  peak RSS %7d KB (rows one at a time)\n' "$capped_s" "$capped_kb"
