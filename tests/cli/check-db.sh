#!/usr/bin/env bash
# check --db URL: the SQL blocks run in document order in one transaction
# that is rolled back at the end (a block uses what an earlier one created;
# nothing stays), each statement in a savepoint (a failure spoils nothing
# after it), a block outside the main flow undone after it, and variables
# with the front matter's defaults (env, then inputs). Skipped (77) without
# PostgreSQL's server programs.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
unset RUNBOOK_AUDIT_REPO
bindir=${RUNBOOK_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
if [ ! -x "$bindir/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  echo "no PostgreSQL server programs: skipped"
  exit 77
fi
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; sleep 0.3; rm -rf "$srv"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "check-db: $*"; [ -f "$dir/out" ] && cat "$dir/out"; exit 1; }

# A server to check against: a throwaway one, kept.
printf '# T\n\n```sql\nSELECT 1;\n```\n' > "$dir/one.md"
"$bin" run --yes --ephemeral-db --keep-db --no-audit "$dir/one.md" > "$dir/keep"
kept_server "$dir/keep" || { cat "$dir/keep"; exit 1; }
gone() { [ "$(psql -XAtc "select to_regclass('$1') is null" "$url")" = t ]; }

# Block 2 inserts into the table block 1 created (its name the input's
# default, which wins over env's), block 3 reads it; block 4 fails, and
# block 5 after it still sees the table; the handler drops it, and block 6
# (after the handler in the document, but main flow) still finds it.
cat > "$dir/chain.md" <<'MD'
---
on_failure: Rollback
env:
  TABLE_NAME: rb_check_orders
  REGION: north
inputs:
  - name: LIMIT_ROWS
    default: "5"
  - name: TABLE_NAME
    default: rb_check_orders2
---
# Chain

```sql {name=create}
CREATE TABLE :"TABLE_NAME" (id int, region text);
```

```sql {name=fill}
INSERT INTO rb_check_orders2 VALUES (1, :'REGION');
SELECT 1 / count(*) FROM rb_check_orders2 WHERE region = 'north';
```

```sql {name=read}
\set wanted 1
SELECT count(*) FROM rb_check_orders2 WHERE id = :wanted LIMIT :LIMIT_ROWS;
```

```sql {name=broken}
SELECT nope FROM rb_check_orders2;
```

```sql {name=after-failure}
UPDATE rb_check_orders2 SET region = 'south' WHERE id = 1;
```

# Rollback

```sql {name=drop}
DROP TABLE rb_check_orders2;
```

# Later

```sql {name=still-there}
SELECT id FROM rb_check_orders2;
```
MD
rc=0; "$bin" check --db "$url" "$dir/chain.md" > "$dir/out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "expected exit 2 (the broken block), got $rc"
grep -qx "$dir/chain.md:29:1: error: on the database: ERROR 42703: column \"nope\" does not exist" "$dir/out" \
  || fail "the broken block's error is not at 29:1"
[ "$(grep -c 'on the database' "$dir/out")" = 1 ] || fail "more than one error on the database"
gone rb_check_orders2 || fail "check --db left rb_check_orders2 behind"

# Without the broken block: clean, and still nothing left.
sed '/^```sql {name=broken}$/,/^```$/d' "$dir/chain.md" > "$dir/clean.md"
"$bin" check --strict --db "$url" "$dir/clean.md" > "$dir/out" 2>&1 || fail "the clean chain is not clean"
gone rb_check_orders2 || fail "a clean check --db left a table behind"

# The findings name their rule in --json.
"$bin" check --json --db "$url" "$dir/chain.md" > "$dir/json" 2> /dev/null || true
python3 - "$dir/json" <<'PY' || fail "--json: no db-error rule"
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["rule"] for x in d if "on the database" in x["message"]] == ["db-error"], d
PY

# A COPY FROM STDIN gets no data, and spoils nothing after it.
cat > "$dir/copy.md" <<'MD'
# Copy

```sql {name=load}
CREATE TABLE rb_check_copy (x int);
COPY rb_check_copy FROM STDIN;
1
\.
SELECT x FROM rb_check_copy;
```
MD
"$bin" check --strict --db "$url" "$dir/copy.md" > "$dir/out" 2>&1 || fail "COPY FROM STDIN"
gone rb_check_copy || fail "the COPY check left a table behind"

# A database that cannot be reached is an error with its rule.
rc=0; "$bin" check --json --db "postgresql:///nowhere?host=$dir/none" "$dir/one.md" > "$dir/json" 2> /dev/null || rc=$?
[ "$rc" = 2 ] || fail "unreachable database: exit $rc"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d[0]["rule"] == "db-connect", d' "$dir/json" \
  || fail "unreachable database: no db-connect"
echo "check-db ok"
