#!/usr/bin/env bash
# psql fidelity, differentially: the same SQL files loaded by psql -f into
# one database and by a runbook's \i into another must leave databases
# whose pg_dump is the same. The files are the fixtures of
# tests/fixtures/psql (dollar quotes, Unicode identifiers, COPY data in
# text and CSV, \gset, \if) and a plain pg_dump of a database this test
# fills with several tables, types and data. Then the meta-commands' own
# behaviour and errors: COPY data errors at their file line, \gset's
# errors, \copy, \c, \echo, \qecho and \warn.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../faults/lib.sh"
fault_setup
cd "$work"
cp -r "$here/../fixtures/psql" fix
db() { echo "postgresql://postgres@/$1?host=$sock"; }
mk() { q "CREATE DATABASE $1" >/dev/null; }
dump() { pg_dump -d "$(db "$1")" | grep -v '^\\\(un\)\?restrict ' ; }
same() { # same DB1 DB2: their dumps are equal
  dump "$1" > "$1.dump"; dump "$2" > "$2.dump"
  diff -u "$1.dump" "$2.dump" > diff.txt || fail "dumps of $1 and $2 differ: $(head -40 diff.txt)"
}

# 1. The fixtures.
mk fx_psql; mk fx_rb
psql -X -q -v ON_ERROR_STOP=1 -d "$(db fx_psql)" -f fix/main.sql > psql.out 2>&1 || fail "psql: $(cat psql.out)"
cat > fx.md <<'MD'
# Fixtures

```sql {name=load}
\i fix/main.sql
```
MD
"$bin" run fx.md --db "$(db fx_rb)" > out 2> err || fail "the fixtures did not load"
grep -q "^hello 'world'! tab	here \"kept quotes\"$" out || fail "\\echo quoting differs from psql's"
same fx_psql fx_rb
[ "$(psql -XAt -d "$(db fx_rb)" -c "SELECT string_agg(msg, '|' ORDER BY id) FROM log")" = \
  "from schema;|items, top price 2.25|flag on|not defined|hello 'world'!" ] || fail "\\gset or \\if took another branch"

# 2. A pg_dump of a database with several tables, types and data.
mk src; mk dp_psql; mk dp_rb
psql -X -q -v ON_ERROR_STOP=1 -d "$(db src)" <<'SQL' > /dev/null
CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('new', 'done');
CREATE DOMAIN app.positive AS int CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a int, b text);
CREATE TABLE app.orders (id bigserial PRIMARY KEY, st app.status NOT NULL DEFAULT 'new',
  qty app.positive, note text, meta jsonb, raw bytea, at timestamptz, p app.pair, nums numeric[]);
CREATE TABLE app."Läger" ("Ïd" int PRIMARY KEY, txt text);
CREATE TABLE app.empty (x int);
CREATE INDEX ON app.orders (st, at);
CREATE VIEW app.open AS SELECT id, note FROM app.orders WHERE st = 'new';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at := now(); RETURN NEW; END$$;
INSERT INTO app.orders (st, qty, note, meta, raw, at, p, nums)
SELECT CASE WHEN g % 3 = 0 THEN 'done' ELSE 'new' END::app.status, g,
       CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN E'tab\there' WHEN 2 THEN E'new\nline' WHEN 3 THEN E'back\\slash' ELSE 'ünï ' || g END,
       jsonb_build_object('g', g, 's', 'x"y'), decode(md5(g::text), 'hex'), '2024-01-01'::timestamptz + g * interval '1 hour',
       ROW(g, 'p' || g)::app.pair, ARRAY[g, g / 3.0]
FROM generate_series(1, 2000) g;
INSERT INTO app."Läger" SELECT g, repeat('z', g % 7) FROM generate_series(1, 50) g;
SQL
pg_dump -d "$(db src)" -f dump.sql
psql -X -q -v ON_ERROR_STOP=1 -d "$(db dp_psql)" -f dump.sql > psql.out 2>&1 || fail "psql: $(cat psql.out)"
cat > dump.md <<'MD'
# Restore

```sql {name=restore transaction=none}
\i dump.sql
```
MD
"$bin" run dump.md --db "$(db dp_rb)" > out 2> err || fail "the dump did not load"
same dp_psql dp_rb

# 3. Inline COPY data in the block itself, as psql reads it from a file.
mk in_psql; mk in_rb
body='CREATE TABLE t (a int, b text);
COPY t FROM stdin;
1	one
2	\N
\.
COPY t FROM stdin (FORMAT csv);
3,"three, quoted"
\.
SELECT count(*) FROM t;'
printf '%s\n' "$body" > inline.sql
psql -X -q -v ON_ERROR_STOP=1 -d "$(db in_psql)" -f inline.sql > /dev/null
printf '# Inline\n\n```sql\n%s\n```\n' "$body" > inline.md
"$bin" run inline.md --db "$(db in_rb)" > out 2> err || fail "inline COPY data did not load"
grep -q '^COPY 2$' out && grep -q '^COPY 1$' out || fail "COPY's command tags missing"
same in_psql in_rb

# 4. Errors. A bad COPY data row: its runbook line; in an included file, that file's line.
mk errs
cat > badcopy.md <<'MD'
# Bad copy

```sql {name=inline}
CREATE TABLE n (x int);
COPY n FROM stdin;
1
2
two
\.
```
MD
rc=0; "$bin" run badcopy.md --db "$(db errs)" > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "a bad COPY row: exit $rc"
grep -q '^badcopy.md:8:1: step .inline.: ERROR 22P02: invalid input syntax for type integer: "two"' err ||
  fail "a bad COPY row is not reported at its runbook line"
printf 'CREATE TABLE m (x int);\nCOPY m FROM stdin;\n1\n\n\\.\n' > badcopy.sql
printf '# Bad copy\n\n```sql {name=included}\n\\i badcopy.sql\n```\n' > badinc.md
rc=0; "$bin" run badinc.md --db "$(db errs)" > out 2> err || rc=$?
grep -q '^\(\./\)\?badcopy.sql:4:1: step .included.: ERROR 22P02' err || fail "a bad COPY row of an included file is not at its line"

# \gset: several rows, or none, fail as psql does.
cat > gset.md <<'MD'
# Gset

```sql {name=two}
SELECT g FROM generate_series(1, 2) g \gset
```
MD
rc=0; "$bin" run gset.md --db "$(db errs)" > out 2> err || rc=$?
[ "$rc" = 1 ] && grep -q "gset.md:4:39: step 'two': ERROR: more than one row returned for \\\\gset" err ||
  fail "\\gset of two rows: exit $rc, $(cat err)"
echo 'SELECT g FROM generate_series(1, 2) g \gset' | psql -X -d "$(db errs)" -f - 2>&1 | grep -q 'more than one row returned for \\gset' ||
  fail "psql words the \\gset error otherwise"
sed -i 's/generate_series(1, 2) g/generate_series(1, 0) g/' gset.md
rc=0; "$bin" run gset.md --db "$(db errs)" > out 2> err || rc=$?
grep -q "no rows returned for \\\\gset" err || fail "\\gset of no row: $(cat err)"

# \gset reaches later steps (and Lua), \copy, \c for the rest of the block, \echo, \qecho, \warn.
mk other
mkdir sub
printf '1,from file\n2,"quoted, too"\n' > sub/in.csv
printf 'CREATE TABLE f (a int, b text);\n\\copy f FROM '"'"'in.csv'"'"' WITH (FORMAT csv)\n\\copy (SELECT b FROM f ORDER BY a) TO out.txt\n' > sub/load.sql
cat > meta.md <<'MD'
# Meta

```sql {name=one transaction=none}
SELECT 41 + 1 AS answer, 'x' AS "Mixed" \gset
\i sub/load.sql
\c other
CREATE TABLE here (x int);
\echo -n no newline
\echo ' after'
\qecho :answer
\warn to stderr
```

```sql {name=two}
SELECT :answer AS again, current_database(), count(*) FROM f;
```

```lua {name=three}
assert(env.answer == "42", "Lua sees " .. tostring(env.answer))
```
MD
rc=0; "$bin" run meta.md --db "$(db errs)" > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "meta-commands: exit $rc"
grep -q '^no newline after$' out || fail "\\echo -n"
grep -q '^42$' out || fail "\\qecho"
grep -q '^to stderr$' err || fail "\\warn goes to stderr"
grep -q 'You are now connected to database "other"' out || fail "\\c says nothing"
grep -Eq '^ +42 \| errs +\| +2$' out || fail "the next step is not back on its own database, or \\gset did not reach it"
[ "$(cat sub/out.txt)" = "$(printf 'from file\nquoted, too')" ] || fail "\\copy TO a file next to the including file"
[ "$(psql -XAt -d "$(db other)" -c "SELECT to_regclass('here') IS NOT NULL")" = t ] || fail "\\c did not switch databases"
echo "ok"
