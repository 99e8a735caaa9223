#!/usr/bin/env bash
# A step whose SELECT returns many rows (BENCH_SQL_ROWS, default 10,000,000):
# runbook shows the first rows and counts the rest, streaming them (single-
# row mode), so its peak memory does not grow with the result. Against psql
# with FETCH_COUNT=10000 (a cursor, the way psql avoids holding a result),
# output to /dev/null for both: wall time and peak memory (maximum resident
# set size). Goal: runbook's peak under 64 MiB.
#
# usage: tests/bench/sql-rows.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
rows=${BENCH_SQL_ROWS:-10000000}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/table.sh"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
bench_server "$bin"
query="SELECT g, md5(g::text) FROM generate_series(1, $rows) g"
printf '# rows\n\n```sql\n%s;\n```\n' "$query" > "$work/rows.md"
measure() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
read -r rb_s rb_kb <<< "$(measure "$bin" run --no-audit --db "$url" "$work/rows.md")"
read -r ps_s ps_kb <<< "$(measure psql -X -q -v FETCH_COUNT=10000 "$url" -c "$query")"
mib() { echo "$1 / 1024" | bc -l | xargs printf '%.1f'; }
printf 'a SELECT of %d rows, output to /dev/null:    wall      peak\n' "$rows"
printf '  runbook run:                      %7.2f s  %7s MiB  (goal < 64 MiB)\n' "$rb_s" "$(mib "$rb_kb")"
printf '  psql -v FETCH_COUNT=10000:        %7.2f s  %7s MiB\n' "$ps_s" "$(mib "$ps_kb")"
bench_row "SELECT of $rows rows: peak memory (vs psql FETCH_COUNT=10000)" "$(mib "$rb_kb") MiB" \
  "$(mib "$ps_kb") MiB" "$(bench_ratio "$rb_kb" "$ps_kb")" "< 64 MiB"
bench_row "SELECT of $rows rows: wall time (vs psql FETCH_COUNT=10000)" "$rb_s s" "$ps_s s" \
  "$(bench_ratio "$rb_s" "$ps_s")" ""
