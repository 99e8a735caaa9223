#!/usr/bin/env bash
# A sql step prints its results exactly as psql 15 does (`psql -X -P
# pager=off`), byte for byte: a corpus of queries (integers, numerics, text
# with newlines, NULLs, booleans, arrays, JSON, wide Unicode, control
# characters, zero rows, one row, no columns) printed aligned, expanded
# (\x), unaligned and as CSV (\pset format). Then rows=: rows=2 prints two
# rows, says how many were left out and the record keeps a note of it;
# rows=all prints every row; and the mistakes the block can make.
#
# How the block's output is taken from a run's output: a run prints
# "Running TITLE (FILE): 1 step", the step's header "[1/1] SECTION › NAME
# (sql)", the block's output, the step's end "[1/1] ok in N.NNNs" and
# "Done: ...". The block's output is every line strictly between the header
# and the end line (block_output below); nothing else is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# psql's encoding follows the locale: UTF-8, so that both measure wide characters alike.
export LC_ALL=C.UTF-8
unset PGCLIENTENCODING
. "$here/../faults/lib.sh"
fault_setup
cd "$work"

cat > corpus.sql <<'SQL'
SELECT 1 AS one, -42::int2 AS small, 9223372036854775807::int8 AS big;
SELECT 3.14159::numeric AS pi, 1e10::float8 AS f8, 2.5::float4 AS f4, NULL::numeric AS nothing, 12.5::money AS cash;
SELECT 1::oid AS o, '5'::xid AS x, '7'::cid AS c, '9'::xid8 AS x8;
SELECT 'alpha' AS t, E'line one\nline two\nthree' AS multi, 'x' AS after;
SELECT E'first\nsecond' AS last_multi;
SELECT E'a\nb' AS "two\nlines", 1 AS n, E'\n' AS only_newline;
SELECT NULL AS n1, NULL::int AS n2, 'between' AS mid, NULL::text AS n3;
SELECT true AS yes, false AS no, NULL::bool AS unknown;
SELECT ARRAY[1,2,3] AS ints, ARRAY['a b','c'] AS texts, '{}'::int[] AS empty, ARRAY[NULL,'x'] AS with_null;
SELECT '{"a": 1, "b": [1, 2]}'::json AS j, '{"k": "v"}'::jsonb AS jb, jsonb_pretty('{"a":{"b":1}}') AS pretty;
SELECT '日本語' AS wide, 'ｆｕｌｌ' AS fullwidth, 'café' AS accent, '漢字' AS "列名", '😀' AS emoji;
SELECT E'tab\there' AS tabbed, E'cr\rhere' AS cr, E'bell\007' AS ctl, 'e' || chr(769) AS combining, chr(133) AS c1;
SELECT 'q"u,o' AS csvq, '\.' AS dot, 'a|b' AS pipe, '' AS empty;
SELECT 'x' AS t, NULL::numeric AS last_null;
SELECT 1 AS a WHERE false;
SELECT 1 AS a, E'x\ny' AS b WHERE false;
SELECT g AS id, repeat('x', g) AS xs, CASE WHEN g % 2 = 0 THEN NULL ELSE g * 1.5 END AS half FROM generate_series(1, 5) g;
SELECT 'one row' AS "a long column name";
SELECT;
SELECT FROM generate_series(1, 3);
SQL

# The block's output: the lines between the step's header and its end line.
block_output() {
  awk '!on && /^\[1\/1\] .* \(sql\)$/ {on = 1; next} on && /^\[1\/1\] (ok|failed) / {exit} on' "$1"
}

# run_block NAME [META-COMMAND...]: the corpus in one sql block after the meta-commands; its output in NAME.rb
run_block() {
  local name=$1
  shift
  {
    printf '# Format\n\n```sql {name=q transaction=none}\n'
    for m in "$@"; do printf '%s\n' "$m"; done
    cat corpus.sql
    printf '```\n'
  } > "$name.md"
  "$bin" run "$name.md" --db "$url" --no-audit > "$name.run" 2> "$name.err" || fail "$name: the run failed"
  block_output "$name.run" > "$name.rb"
}

# psql_out NAME FLAGS... [-- META-COMMAND...]: psql's output of the corpus, one -c per statement
psql_out() {
  local name=$1 flags=() cmds=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for m in "$@"; do cmds+=(-c "$m"); done
  while IFS= read -r stmt; do cmds+=(-c "$stmt"); done < corpus.sql
  psql -X -P pager=off "${flags[@]}" -d "$url" "${cmds[@]}" > "$name.psql" 2>&1
}

same() { # same NAME: the block printed what psql printed
  cmp -s "$1.psql" "$1.rb" || { diff -u "$1.psql" "$1.rb" | head -40; fail "$1: runbook's output differs from psql's"; }
}

# Aligned, psql's default.
run_block aligned
psql_out aligned
same aligned

# Each other format two ways: the meta-commands in both (their messages
# included), and psql's command-line flag against the block without them.
check_format() { # check_format NAME "FLAGS" META-COMMAND...
  local name=$1 flags=$2
  shift 2
  run_block "$name" "$@"
  # shellcheck disable=SC2086
  psql_out "$name" -- "$@"
  same "$name"
  # shellcheck disable=SC2086
  psql_out "$name.flag" $flags
  tail -n +$(($# + 1)) "$name.rb" > "$name.flag.rb"
  same "$name.flag"
}
check_format expanded "-x" '\x'
check_format unaligned "-A" '\pset format unaligned'
check_format unaligned-expanded "-A -x" '\pset format unaligned' '\x on'
check_format csv "--csv" '\pset format csv'
check_format csv-expanded "--csv -x" '\pset format csv' '\pset expanded'

# Settings change the results after them, in order, as in psql.
run_block settings '\x' '\x' '\x auto' '\pset format' '\pset expanded on' '\pset expanded off' '\pset format aligned'
psql_out settings -- '\x' '\x' '\x auto' '\pset format' '\pset expanded on' '\pset expanded off' '\pset format aligned'
same settings

# rows=2: two rows shown, the rest counted, and the record says so.
cat > rows.md <<'MD'
# Rows

```sql {name=two rows=2}
SELECT g AS n FROM generate_series(1, 5) g;
```

```sql {name=every rows=all}
SELECT g AS n FROM generate_series(1, 150) g;
```

```sql {name=capped}
SELECT g AS n FROM generate_series(1, 150) g;
```
MD
git init -q rows-audit
"$bin" run rows.md --db "$url" --audit-repo rows-audit > rows.out 2> rows.err || fail "rows: the run failed"
awk '/^\[1\/3\] .* \(sql\)$/ {on = 1; next} /^\[1\/3\] ok/ {on = 0} on' rows.out > two.rb
printf ' n \n---\n 1\n 2\n... 3 more rows not shown\n(5 rows)\n\n' > two.want
cmp -s two.want two.rb || { diff -u two.want two.rb; fail "rows=2 did not print two rows and the count"; }
awk '/^\[2\/3\] .* \(sql\)$/ {on = 1; next} /^\[2\/3\] ok/ {on = 0} on' rows.out > every.rb
psql -X -P pager=off -d "$url" -c 'SELECT g AS n FROM generate_series(1, 150) g' > every.psql
cmp -s every.psql every.rb || fail "rows=all did not print every row as psql does"
grep -qx '... 50 more rows not shown' rows.out || fail "the default cap (100 rows) did not say what it left out"
record=$(git -C rows-audit ls-tree -r --name-only refs/heads/runbook-audit | grep 'record.json$')
git -C rows-audit show "refs/heads/runbook-audit:$record" > rows.json
grep -q '"text": "step '"'"'two'"'"': 3 result rows not shown (rows=2)"' rows.json || fail "the record has no note of the rows left out"
grep -q '"rows_not_shown": "3"' rows.json || fail "the note does not count the rows left out"
grep -q '"rows_not_shown": "50"' rows.json || fail "the default cap's rows left out are not in the record"
if grep -q "step 'every'" rows.json; then fail "rows=all left rows out"; fi

# Mistakes: an unsupported \pset, a format runbook does not print, a bad rows=.
mistake() { # mistake WANT-TEXT INFO BODY
  printf '# M\n\n```sql {%s}\n%s\n```\n' "$2" "$3" > m.md
  local rc=0
  "$bin" run m.md --db "$url" --no-audit > m.out 2> m.err || rc=$?
  [ "$rc" = 2 ] || fail "'$3' with {$2}: expected exit 2, got $rc"
  grep -qF -- "$1" m.err || fail "'$3' with {$2}: no '$1' in the error"
}
# (found by the pre-flight's check, before anything runs)
mistake "m.md:4:1: error: \\pset border: a sql step supports \\pset format and \\pset expanded only" "name=m" '\pset border 2'
mistake "\\pset format wrapped: a sql step prints aligned, unaligned or csv" "name=m" '\pset format wrapped'
mistake "\\x: unrecognized value \"sideways\" for \"expanded\" (on, off or auto)" "name=m" '\x sideways'
mistake "attribute 'rows': '0' is not a number of rows from 1, or all" "name=m rows=0" 'SELECT 1;'
mistake "attribute 'rows': 'some' is not a number of rows from 1, or all" "name=m rows=some" 'SELECT 1;'
mistake "attribute 'rows': '-1' is not a number of rows from 1, or all" "name=m rows=-1" 'SELECT 1;'
echo "psql-format: ok"
