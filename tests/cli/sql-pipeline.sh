#!/usr/bin/env bash
# What runbook adds around a SQL block (the limits, BEGIN, COMMIT) rides in
# one libpq pipeline with the block's first and last statement
# (interpreter/sqlpipe.h); the block behaves as when each went on its own:
# the pipeline is used (server log), a failing statement leaves no effect of
# the others and is reported at its line:col, transaction=none stops at the
# first error and keeps what ran before, notices come in the same order
# among the results, Ctrl-C, a timeout or an abort condition leave no open
# transaction and no effect, statements that cannot run in a transaction
# still run in transaction=none, the limits are set for good even when the
# block fails, and what cannot go through a pipeline (psql's \;, a
# variable holding two statements, COPY) still runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../faults/lib.sh"
fault_setup
cd "$work"
run() { "$bin" run --no-audit --db "$url" "$@"; }
# (in the background, "$bin" itself: a signal must reach runbook, not a subshell)
# lines LIST FILE: the lines of FILE that match the extended regexp LIST, in order
lines() { grep -E "$1" "$2" || true; }

q "CREATE TABLE t (i int)" >/dev/null

# 1. The pipeline is used (the extended protocol's "execute"): a block whose
#    only statement is a query or a data change goes with its limits in the
#    pipeline's own transaction (no BEGIN nor COMMIT, as psql -f runs it);
#    another one-statement block with BEGIN, its limits and COMMIT; a longer
#    block's first statement with BEGIN and the limits, the last one alone
#    and COMMIT after it; a block that starts with a meta-command sends its
#    limits and BEGIN on their own (simple queries).
q "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
cat > used.md <<'MD'
# Used

```sql
SELECT 101 AS piped;
```

```sql
\echo plain
SELECT 102 AS plain;
```

```sql
LOCK TABLE t IN SHARE MODE;
```

```sql
SELECT 103 AS first;
SELECT 104 AS last;
```
MD
run used.md > out 2> err || fail "used.md failed"
q "ALTER SYSTEM RESET log_statement" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
got=$(grep -E 'LOG:  (execute <unnamed>|statement): (SET statement_timeout|SET lock_timeout|BEGIN|COMMIT|SELECT 10[1-4]|LOCK TABLE t)' \
  "$work/log/server.log" | sed 's/^.*LOG:/LOG:/')
want='LOG:  execute <unnamed>: SET statement_timeout = 0
LOG:  execute <unnamed>: SET lock_timeout = 5000
LOG:  execute <unnamed>: SELECT 101 AS piped
LOG:  statement: SET statement_timeout = 0; SET lock_timeout = 5000
LOG:  statement: BEGIN
LOG:  statement: SELECT 102 AS plain
LOG:  statement: COMMIT
LOG:  execute <unnamed>: BEGIN
LOG:  execute <unnamed>: SET statement_timeout = 0
LOG:  execute <unnamed>: SET lock_timeout = 5000
LOG:  execute <unnamed>: LOCK TABLE t IN SHARE MODE
LOG:  execute <unnamed>: COMMIT
LOG:  execute <unnamed>: BEGIN
LOG:  execute <unnamed>: SET statement_timeout = 0
LOG:  execute <unnamed>: SET lock_timeout = 5000
LOG:  execute <unnamed>: SELECT 103 AS first
LOG:  statement: SELECT 104 AS last
LOG:  statement: COMMIT'
[ "$got" = "$want" ] || fail "the server did not get the blocks as expected: $(diff <(echo "$want") <(echo "$got"))"
[ "$(lines '^ +10[1-4]$' out | tr -d ' \n')" = "101102103104" ] || fail "used.md: results: $(cat out)"
echo "one-statement block: limits and statement in one pipeline (BEGIN and COMMIT too unless a query or data change)"

# 2. A failing statement in the middle, at the end, or alone (transaction=single):
#    no effect of any statement of the block, the error at its line and column.
cat > fail.md <<'MD'
# Fail

```sql {name=middle}
INSERT INTO t VALUES (1);
INSERT INTO t
  VALUES (nope);
INSERT INTO t VALUES (3);
```
MD
rc=0; run fail.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "middle: expected exit 1, got $rc"
grep -q "^fail.md:6:11: step 'middle': ERROR 42703: column \"nope\" does not exist" err || fail "middle: wrong position"
[ "$(q "SELECT count(*) FROM t")" = 0 ] || fail "middle: statements of the failed block left rows"
cat > last.md <<'MD'
# Last

```sql {name=last}
INSERT INTO t VALUES (1);
INSERT INTO t VALUES (2);
   SELECT 1/0;
```
MD
rc=0; run last.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "last: expected exit 1, got $rc"
grep -q "^last.md:6:4: step 'last': ERROR 22012: division by zero" err || fail "last: wrong position"
[ "$(q "SELECT count(*) FROM t")" = 0 ] || fail "last: the block was committed"
cat > alone.md <<'MD'
# Alone

```sql {name=alone}
INSERT INTO t SELECT nope;
```
MD
rc=0; run alone.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "alone: expected exit 1, got $rc"
grep -q "^alone.md:4:22: step 'alone': ERROR 42703: column \"nope\" does not exist" err || fail "alone: wrong position"
# A syntax error the server finds in a statement that BEGIN or COMMIT rode with (a value
# known only at run time, so the check before the run cannot see it).
cat > syntax.md <<'MD'
# Syntax

```sql {name=get capture=bad}
SELECT ')';
```

```sql {name=alone}
INSERT INTO t
  VALUES (1 :bad);
```

```sql {name=last}
INSERT INTO t VALUES (1);
INSERT INTO t
  VALUES (1 :bad);
```
MD
rc=0; run syntax.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "syntax: expected exit 1, got $rc"
grep -q "^syntax.md:9:14: step 'alone': ERROR 42601: syntax error at or near \")\"" err || fail "syntax: wrong position: $(cat err)"
sed -i 's/^```sql {name=alone}/```sql {name=alone skip}/' syntax.md
rc=0; run syntax.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "syntax (last): expected exit 1, got $rc"
grep -q "^syntax.md:15:14: step 'last': ERROR 42601: syntax error at or near \")\"" err || fail "syntax (last): wrong position: $(cat err)"
[ "$(q "SELECT count(*) FROM t")" = 0 ] || fail "syntax: statements of the failed block left rows"
echo "a failing statement: nothing of the block stays, its line:col reported"

# 3. transaction=none stops at the first error; what ran before stays.
cat > none.md <<'MD'
# None

```sql {name=auto transaction=none}
INSERT INTO t VALUES (1);
INSERT INTO t VALUES (2);
INSERT INTO t VALUES (nope);
INSERT INTO t VALUES (4);
```
MD
rc=0; run none.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "none: expected exit 1, got $rc"
grep -q "^none.md:6:23: step 'auto': ERROR 42703" err || fail "none: wrong position"
[ "$(q "SELECT string_agg(i::text, ',' ORDER BY i) FROM t")" = "1,2" ] || fail "none: expected rows 1,2"
q "TRUNCATE t" >/dev/null
echo "transaction=none: stops at the first error, earlier statements stay"

# 4. Notices among the results, in order: from the statements, from the server
#    parsing one (a long identifier, shown after --verbose's sql> line), and
#    from a deferred trigger at COMMIT (after the statement's tag).
q "CREATE TABLE d (i int)" >/dev/null
q "CREATE FUNCTION d_note() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE NOTICE 'deferred %', NEW.i; RETURN NULL; END\$\$" >/dev/null
q "CREATE CONSTRAINT TRIGGER d_t AFTER INSERT ON d DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION d_note()" >/dev/null
long=$(printf 'x%.0s' $(seq 70))
cat > notices.md <<MD
# Notices

\`\`\`sql {name=among}
DO \$\$BEGIN RAISE NOTICE 'first'; END\$\$;
SELECT 1 AS one;
DO \$\$BEGIN RAISE NOTICE 'second'; END\$\$;
SELECT 2 AS two;
\`\`\`

\`\`\`sql {name=parsed}
SELECT 3 AS $long;
\`\`\`

\`\`\`sql {name=deferred}
INSERT INTO d VALUES (5);
\`\`\`
MD
run --verbose notices.md > out 2>&1 || fail "notices.md failed"
got=$(lines "NOTICE|^DO|^ (one|two)|^INSERT|sql> " out | sed -E 's/x{60,}/LONG/g')
want="  sql> DO \$\$BEGIN RAISE NOTICE 'first'; END\$\$
NOTICE:  first
DO
  sql> SELECT 1 AS one
 one 
  sql> DO \$\$BEGIN RAISE NOTICE 'second'; END\$\$
NOTICE:  second
DO
  sql> SELECT 2 AS two
 two 
  sql> SELECT 3 AS LONG
NOTICE:  identifier \"LONG\" will be truncated to \"LONG\"
  sql> INSERT INTO d VALUES (5)
INSERT 0 1
NOTICE:  deferred 5"
[ "$got" = "$want" ] || fail "notices out of order: $(diff <(echo "$want") <(echo "$got"))"
echo "notices: in the same order among the results"

# 4b. A commit that fails at its end (a deferred constraint trigger), for a block of one data
#     change (committed at the pipeline's sync) and for one that is not (COMMIT in the pipeline):
#     the block fails with the trigger's error, nothing of it stays, no stray warning.
q "CREATE TABLE dd (i int)" >/dev/null
q "CREATE FUNCTION dd_boom() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'deferred boom %', NEW.i; END\$\$" >/dev/null
q "CREATE CONSTRAINT TRIGGER dd_t AFTER INSERT ON dd DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION dd_boom()" >/dev/null
cat > boom.md <<'MD'
# Boom

```sql {name=boom}
INSERT INTO dd VALUES (7);
```
MD
rc=0; run boom.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "deferred error: expected exit 1, got $rc"
grep -q "^boom.md:4:1: step 'boom': ERROR P0001: deferred boom 7" err || fail "deferred error: not reported: $(cat err)"
! grep -q "WARNING" err || fail "deferred error: a stray warning: $(cat err)"
[ "$(q "SELECT count(*) FROM dd")" = 0 ] || fail "deferred error: the row stayed"
sed -i 's/^INSERT INTO dd VALUES (7);/DO $$BEGIN INSERT INTO dd VALUES (8); END$$;/' boom.md
rc=0; run boom.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "deferred error (COMMIT): expected exit 1, got $rc"
grep -q "^boom.md:4:1: step 'boom': ERROR P0001: deferred boom 8" err || fail "deferred error (COMMIT): not reported: $(cat err)"
! grep -q "WARNING" err || fail "deferred error (COMMIT): a stray warning: $(cat err)"
[ "$(q "SELECT count(*) FROM dd")" = 0 ] || fail "deferred error (COMMIT): the row stayed"
echo "a commit that fails: the block fails with its error, nothing stays"

# 5. Ctrl-C, a timeout and an abort condition during the long statement of a
#    pipelined block: no effect, and no open transaction while the failure
#    handler runs (pg_stat_activity, from another connection).
cat > stop.md <<'MD'
---
on_failure: After
---
# Stop

```lua abort {every=100ms}
return file.exists("abort-now"), "asked to stop"
```

```sql {name=long}
INSERT INTO t VALUES (1);
SELECT pg_sleep(60);
```

## After

```bash
psql "$DB" -XAtc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'runbook/%' AND (state <> 'idle' OR xact_start IS NOT NULL)" > "$OPEN"
```
MD
sleeping() { for _ in $(seq 100); do [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")" = 1 ] && return 0; sleep 0.1; done; fail "$1: the statement never ran"; }
check_stop() { # check_stop WHAT WANT_EXIT RC
  [ "$3" = "$2" ] || fail "$1: expected exit $2, got $3"
  [ "$(cat open)" = 0 ] || fail "$1: a transaction was open while the handler ran"
  [ "$(q "SELECT count(*) FROM t")" = 0 ] || fail "$1: the block's first statement stayed"
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")" = 0 ] \
    || fail "$1: the statement still runs"
}
export DB=$url OPEN=$work/open
rm -f open; "$bin" run --no-audit --db "$url" stop.md > out 2> err & pid=$!
sleeping "Ctrl-C"; kill -INT "$pid"; rc=0; wait "$pid" || rc=$?
check_stop "Ctrl-C" 130 "$rc"
sed -e 's/name=long}/name=long timeout=1s}/' stop.md > timeout.md
rm -f open; rc=0; run timeout.md > out 2> err || rc=$?
check_stop "timeout" 1 "$rc"
grep -q "timed out after" err || fail "timeout: not said"
rm -f open; "$bin" run --no-audit --db "$url" stop.md > out 2> err & pid=$!
sleeping "abort"; touch abort-now; rc=0; wait "$pid" || rc=$?
check_stop "abort condition" 4 "$rc"
rm -f abort-now
echo "Ctrl-C, timeout, abort condition: cancelled, rolled back, no open transaction"

# 6. Statements that cannot run in a transaction block, in transaction=none
#    (first, in the middle, alone), as before; in a single transaction, refused.
cat > outside.md <<'MD'
# Outside

```sql {transaction=none}
VACUUM t;
CREATE INDEX CONCURRENTLY IF NOT EXISTS t_i ON t (i);
VACUUM (ANALYZE) t;
```

```sql {transaction=none}
CREATE DATABASE pipeline_scratch;
```

```sql {transaction=none}
DROP DATABASE IF EXISTS pipeline_scratch;
```
MD
run outside.md > out 2> err || fail "outside.md failed: $(cat err)"
[ "$(lines '^(VACUUM|CREATE INDEX|CREATE DATABASE|DROP DATABASE)$' out | tr '\n' ' ')" = "VACUUM CREATE INDEX VACUUM CREATE DATABASE DROP DATABASE " ] \
  || fail "outside: not every statement ran"
printf '# In\n\n```sql\nINSERT INTO t VALUES (1);\nVACUUM t;\n```\n' > inside.md
rc=0; run inside.md > out 2> err || rc=$?
[ "$rc" = 2 ] && grep -q "inside.md:5:1: .*cannot run inside a transaction block" err || fail "inside: expected the usage error (exit 2), got $rc"
echo "statements outside a transaction block: run in transaction=none, refused otherwise"

# 7. The limits: in force during the block, and set for good even when the
#    block fails (the failure handler's Lua reads them on the same connection):
#    they ride in the block's transaction (BEGIN's, or the pipeline's own for
#    a lone query), and are set again when it does not commit; a timeout past
#    the server's largest statement_timeout sets the largest.
cat > limits.md <<'MD'
---
on_failure: After
---
# Limits

```sql {lock_timeout=3s timeout=5s}
SHOW lock_timeout;
```

```sql {lock_timeout=4s}
SELECT current_setting('lock_timeout') AS lt;
```

```sql {timeout=900h}
SHOW statement_timeout;
```

```sql {lock_timeout=7s}
SHOW statement_timeout;
SELECT 1/0;
```

## After

```lua
log("after the failed block: lock_timeout " .. sql1("SHOW lock_timeout"))
```
MD
rc=0; run limits.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "limits: expected exit 1, got $rc"
[ "$(lines '^ (3s|4s|0|2147483647ms)$' out | tr -d ' \n')" = "3s4s2147483647ms0" ] || fail "limits: not in force during the blocks: $(cat out)"
grep -q "after the failed block: lock_timeout 7s" out err || fail "limits: rolled back with the block"
# The same after a failed block of one data change (its limits rode in the pipeline's own transaction).
sed -e 's/^```sql {lock_timeout=7s}$/```sql {lock_timeout=9s}/' -e '/^SHOW statement_timeout;$/{N;s/^SHOW statement_timeout;\nSELECT 1\/0;$/SELECT 1\/0;/}' \
  limits.md > limits1.md
grep -q "lock_timeout=9s" limits1.md && ! grep -q "^SHOW statement_timeout;$" <(sed -n '/lock_timeout=9s/,/^```$/p' limits1.md) \
  || fail "limits: limits1.md not made: $(cat limits1.md)"
rc=0; run limits1.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "limits (one statement): expected exit 1, got $rc"
grep -q "after the failed block: lock_timeout 9s" out err || fail "limits (one statement): rolled back with the block"
echo "limits: in force during the block, kept after a failed one"

# 8. What does not go through a pipeline still runs: psql's \; (two results),
#    a variable holding two statements, COPY first and last.
q "CREATE TABLE c (i int, s text)" >/dev/null
cat > plain.md <<'MD'
# Plain

```sql
SELECT 1 AS a \; SELECT 2 AS b;
```

```sql
:two;
```

```sql
COPY c FROM STDIN;
1	one
\.
COPY c TO STDOUT;
```
MD
run --set two='SELECT 3 AS p; SELECT 4 AS q' plain.md > out 2> err || fail "plain.md failed: $(cat err)"
[ "$(lines '^ (a|b|p|q) $|^ *[1-4]$|^1	one$' out | tr -d ' \n\t')" = "a1b2p3q41one" ] || fail "plain: wrong results: $(cat out)"
echo "psql's \\;, two statements in a variable, COPY: as before"
