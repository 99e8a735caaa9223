#!/usr/bin/env bash
# Locks: a migration behind another session's ACCESS EXCLUSIVE lock fails
# within lock_timeout and names the blocker, or succeeds with retry= once
# the holder commits; two runs of one runbook against one database: exactly
# one runs, the other refuses naming the first; kill -9 frees the lock.
. "$(dirname "$0")/lib.sh"
fault_setup
cd "$work"
q "CREATE TABLE accounts (id int)" >/dev/null

hold() { # hold SECONDS: another session holds ACCESS EXCLUSIVE on accounts
  PGAPPNAME=holder-app psql "$url" -Xq -c "BEGIN" -c "LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE" \
    -c "SELECT pg_sleep($1)" -c "COMMIT" > /dev/null &
  holder=$!
  for _ in $(seq 100); do
    [ "$(q "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'accounts' and l.mode = 'AccessExclusiveLock' and l.granted")" = 1 ] && return 0
    sleep 0.05
  done
  fail "the holder never took its lock"
}

# 1. lock_timeout: 2s in the front matter: the step fails within 2 s + 1 s and
#    names the blocking pid and its application_name.
cat > migrate.md <<'MD'
---
lock_timeout: 2s
---
# Migrate

```sql {name=alter}
ALTER TABLE accounts ADD COLUMN balance int;
```
MD
hold 20
holder_pid=$(q "select pid from pg_stat_activity where application_name = 'holder-app'")
t0=$(date +%s%N); rc=0
"$bin" run --db "$url" migrate.md > out 2> err || rc=$?
ms=$(ms_since "$t0")
[ "$rc" = 1 ] || fail "lock timeout: expected exit 1, got $rc"
# The step itself waited about the 2 s of lock_timeout (its own duration, as
# the result line gives it); the whole run, start-up and audit commit
# included, well under the holder's 20 s.
d=$(sed -n 's/^\[1\/1\] failed: SQLSTATE 55P03 in \([0-9.]*\)s$/\1/p' out)
[ -n "$d" ] && awk -v d="$d" 'BEGIN { exit !(d >= 1.9 && d < 3.5) }' \
  || fail "lock timeout of 2 s: the step took ${d:-?} s"
[ "$ms" -lt 15000 ] || fail "lock timeout of 2 s: the run took $ms ms"
grep -q "ERROR 55P03: canceling statement due to lock timeout; blocked by pid $holder_pid (application_name 'holder-app'" err \
  || fail "the blocker is not named"
kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true
q "select pg_terminate_backend($holder_pid)" >/dev/null || true
echo "lock timeout after $ms ms, blocker named"

# 1b. A role that cannot see other users' sessions (no pg_read_all_stats):
#     the blocker is named with what it may see, and the message says why
#     the rest is missing (not an empty state and a 0 s transaction).
q "CREATE ROLE migrator LOGIN; ALTER TABLE accounts OWNER TO migrator" >/dev/null
hold 20
holder_pid=$(q "select pid from pg_stat_activity where application_name = 'holder-app'")
rc=0
"$bin" run --db "postgresql://migrator@/postgres?host=$sock" migrate.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "unprivileged lock timeout: expected exit 1, got $rc"
grep -q "blocked by pid $holder_pid (application_name 'holder-app', user 'postgres'; its state and query are hidden from role 'migrator', which needs pg_read_all_stats to see them)" err \
  || fail "the hidden blocker is not described"
kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true
q "select pg_terminate_backend($holder_pid)" >/dev/null || true
q "ALTER TABLE accounts OWNER TO postgres" >/dev/null
echo "a blocker hidden from the role is described as hidden"

# 2. With retry=, the step succeeds once the holder commits (after ~3 s).
cat > retry.md <<'MD'
# Retry

```sql {name=alter lock_timeout=1s retry=5 retry_delay=500ms}
ALTER TABLE accounts ADD COLUMN balance int;
```
MD
hold 3
"$bin" run --db "$url" retry.md > out 2> err || fail "retry: the step did not succeed once the lock was free"
grep -q 'retrying (attempt 2 of 6)' out || fail "retry: no retry happened"
[ "$(q "select count(*) from information_schema.columns where table_name = 'accounts' and column_name = 'balance'")" = 1 ] \
  || fail "retry: the column is not there"
wait "$holder" 2>/dev/null || true
rec=$(git --git-dir="$work/audit" show "refs/heads/runbook-audit:$(git --git-dir="$work/audit" diff-tree --root --no-commit-id --name-only -r refs/heads/runbook-audit | grep '/record.json$')")
grep -q '"attempts"' <<< "$rec" || fail "retry: the attempt count is not in the record"
echo "retry: succeeded after the holder committed"

# 3. Two runs of one runbook against one database, started together: one
#    runs, the other exits 5 in under a second naming the first.
cat > once.md <<'MD'
# Once at a time

```sql {name=work}
SELECT pg_sleep(4);
```
MD
"$bin" run --db "$url" once.md > out1 2> err1 & p1=$!
"$bin" run --db "$url" once.md > out2 2> err2 & p2=$!
t0=$(date +%s%N)
rc2=0; wait "$p2" || rc2=$?
first=$p1; second=$p2; rc_second=$rc2; err_second=err2
if [ "$rc2" = 0 ]; then
  # p2 won: p1 must have refused.
  rc1=0; wait "$p1" || rc1=$?
  rc_second=$rc1; err_second=err1; first=$p2; second=$p1
else
  # Under a second in a release build; this suite runs the sanitized build, in parallel.
  [ "$(ms_since "$t0")" -lt 3000 ] || fail "the second run took $(ms_since "$t0") ms to refuse"
fi
[ "$rc_second" = 5 ] || fail "concurrent runs: the second should exit 5, got $rc_second"
grep -q "the run lock 'Once at a time' is held by pid [0-9]*, application_name 'runbook/once-at-a-time/" "$err_second" \
  || fail "the holder is not named"
wait 2>/dev/null || true
echo "concurrent runs: one ran, the other refused naming it"

# 4. kill -9 of the holder: the server frees the lock; a new run gets it.
#    --wait-lock waits for a run that ends.
"$bin" run --db "$url" once.md > out1 2> err1 & p1=$!
for _ in $(seq 100); do [ "$(q "select count(*) from pg_locks where locktype = 'advisory' and granted")" = 1 ] && break; sleep 0.05; done
rc=0; "$bin" run --db "$url" --wait-lock 10s once.md > out2 2> err2 || rc=$?
[ "$rc" = 0 ] || fail "--wait-lock: expected to run after the first, got $rc"
"$bin" run --db "$url" once.md > out1 2> err1 & p1=$!
for _ in $(seq 100); do [ "$(q "select count(*) from pg_locks where locktype = 'advisory' and granted")" = 1 ] && break; sleep 0.05; done
kill -9 "$p1"; wait "$p1" 2>/dev/null || true
for _ in $(seq 60); do [ "$(q "select count(*) from pg_locks where locktype = 'advisory' and granted")" = 0 ] && break; sleep 0.1; done
rc=0; "$bin" run --db "$url" once.md > out2 2> err2 || rc=$?
[ "$rc" = 0 ] || fail "after kill -9 of the holder: expected the lock to be free, got $rc"
[ "$(q "select count(*) from pg_locks where locktype = 'advisory' and granted")" = 0 ] || fail "a lock is still held"
echo "kill -9 of the holder frees the lock; --wait-lock waits"
