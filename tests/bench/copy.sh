#!/usr/bin/env bash
# COPY data inline: a file of 1,000,000 rows (COPY ... FROM stdin, then the
# rows, then \.) loaded by a runbook's `\i` against `psql -f` of the same
# file, on the same throwaway server, into a fresh table each time; the
# best of 3 runs of each. Prints the ratio (target <= 1.2x) and runbook's
# peak RSS from /usr/bin/time -v (target < 64 MiB): the file is streamed,
# never held whole.
#
# usage: tests/bench/copy.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
n=${BENCH_COPY_ROWS:-1000000}
. "$(dirname "$0")/lib.sh"
# One server for all measurements: started by runbook itself and kept.
bench_server "$bin"

{
  echo 'DROP TABLE IF EXISTS big;'
  echo 'CREATE TABLE big (id int, name text, amount numeric, at timestamptz);'
  echo 'COPY big (id, name, amount, at) FROM stdin;'
  awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) printf "%d\tname-%d\t%d.%02d\t2024-01-01 00:00:%02d+00\n", i, i, i % 1000, i % 100, i % 60 }'
  echo '\.'
  echo 'SELECT count(*) FROM big;'
} > "$work/load.sql"
printf '# Load\n\n```sql {name=load transaction=none}\n\\i load.sql\n```\n' > "$work/load.md"
size=$(du -m "$work/load.sql" | cut -f1)

best() { sort -n | head -1; }
ms() { local t0; t0=$(date +%s%N); "$@" > /dev/null; echo $(( ($(date +%s%N) - t0) / 1000000 )); }
psql_ms=$(for i in 1 2 3; do ms psql -Xq -v ON_ERROR_STOP=1 "$url" -f "$work/load.sql"; done | best)
rb_ms=$(for i in 1 2 3; do (cd "$work" && ms "$bin" run --db "$url" --no-audit load.md 2>/dev/null); done | best)
(cd "$work" && /usr/bin/time -v "$bin" run --db "$url" --no-audit load.md > /dev/null 2> time.txt)
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
[ "$(psql -XAt "$url" -c 'SELECT count(*) FROM big')" = "$n" ] || { echo "rows missing"; exit 1; }
echo "COPY inline data, $n rows ($size MB) through \\i:"
echo "  psql -f:  $psql_ms ms"
echo "  runbook:  $rb_ms ms"
awk -v a="$rb_ms" -v b="$psql_ms" 'BEGIN { printf "  ratio:    %.2fx (target <= 1.2x)\n", a / b }'
awk -v k="$rss_kb" 'BEGIN { printf "  runbook peak RSS: %.1f MiB (target < 64 MiB)\n", k / 1024 }'
