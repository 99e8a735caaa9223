#!/usr/bin/env bash
# Lock safety of the production runbooks, on a staged EHG database with
# "application" sessions that hold or wait for locks:
#  A. the promotion's view/policy step gives up after its 10 s lock timeout
#     instead of waiting behind a reader (the reader is not disturbed);
#  B. the direct path's apply does the same;
#  C. an undo (the rollback) gives up too: exit 6, not an endless wait;
#  D. the lock-wait abort conditions see other users' lock waits when the
#     runbooks connect as a role that is neither superuser nor a member of
#     pg_read_all_stats (pg_stat_activity hides those waits from it);
#  E. a role that cannot read pg_locks is refused before any change.
# After each, a pg_dump of the whole database is as before.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
bg=()
cleanup() {
  if [ -n "${url:-}" ]; then
    psql -XAtq "$url" -c "select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'locktest-%'" \
      > /dev/null 2>&1 || true
  fi
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  sleep 0.3
  rm -rf "$dir" "${srv:-/nonexistent}"
}
trap cleanup EXIT
fail() { { echo "FAIL: $*"; echo "--- out"; cat "$dir/out" 2>/dev/null; } >&2; exit 1; }
"$bin" run --ephemeral-db --keep-db --no-audit --set CODEX_STAGING_PASSWORD=cdx-staging-pw-7781 \
  "$src/runbooks/ehg-staging.md" > "$dir/out" 2>&1 || { kept_server "$dir/out" || true; fail "staging"; }
kept_server "$dir/out" || fail "no kept server"
q() { psql -XAtq "$url" -c "$1"; }
whole() { pg_dump "$url" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^SELECT pg_catalog.setval' | sed '/^$/d'; }
same() {
  whole > "$dir/after.sql"
  diff -u "$dir/before.sql" "$dir/after.sql" > "$dir/diff" || { cat "$dir/diff"; fail "$1: the database changed"; }
}
wait_for() { # wait_for WHAT SQL: until SQL answers t, at most 20 s
  local i
  for i in $(seq 200); do [ "$(q "$2")" = t ] && return 0; sleep 0.1; done
  fail "timed out waiting for $1"
}
# An application session: NAME, then SQL run in one open transaction that it keeps for 120 s.
hold() {
  psql -XAtq "$url" -c "set application_name = 'locktest-$1'" -c "begin" -c "$2" -c "select pg_sleep(120)" \
    > /dev/null 2>&1 &
  bg+=($!)
  wait_for "session $1" "select count(*) = 1 from pg_stat_activity where application_name = 'locktest-$1' and state = 'active' and query like '%pg_sleep(120)%'"
}
release() { q "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'locktest-%') t" > /dev/null; sleep 0.3; }
pid_of() { q "select pid from pg_stat_activity where application_name = 'locktest-$1'"; }
promo_set=(--set "SIGNOFF_ENGINEERING_LEAD=Erin Lead" --set "SIGNOFF_DBA=Dana Admin"
  --set "SIGNOFF_SECURITY=Sam Secure" --set "SIGNOFF_PRODUCT_OWNER=Pat Owner"
  --set "PITR_OVERRIDE=test server without WAL archiving")
direct_set=(--confirm "DIRECT TO PRODUCTION" --set "SIGNOFF_DBA=Dana Admin" --set "SIGNOFF_SECURITY_OFFICER=Sol Officer"
  --set "SIGNOFF_CTO=Chris Chair" --set "PITR_OVERRIDE=test server without WAL archiving" --set REHEARSAL_OVERRIDE=rehearsal)
run() { # run EXPECTED-EXIT CASE URL RUNBOOK [ARGS...]: prints the seconds it took
  local want=$1 name=$2 u=$3 rb=$4 rc=0 t0=$SECONDS; shift 4
  "$bin" run --yes --no-audit --set "PROD_DATABASE_URL=$u" --set "BACKUP_DIR=$dir" "$@" "$rb" \
    > "$dir/out" 2>&1 < /dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc"
  echo $((SECONDS - t0))
}
whole > "$dir/before.sql"

# A reader that starts while the runbook (a copy, paused by a migration
# line) runs: late_reader NAME MARKER SQL waits for the statement MARKER,
# then opens a transaction running SQL and keeps it for 120 s.
late_reader() {
  ( for i in $(seq 300); do
      [ "$(q "select count(*) from pg_stat_activity where query like '%$2%' and pid <> pg_backend_pid()")" = 1 ] && break
      sleep 0.05
    done
    exec psql -XAtq "$url" -c "set application_name = 'locktest-$1'" -c "begin" -c "$3" -c "select pg_sleep(120)"
  ) > /dev/null 2>&1 &
  bg+=($!)
}
copy() { rm -rf "$dir/runbooks" "$dir/sql"; cp -R "$src/runbooks" "$src/sql" "$dir/"; }

# A. An application transaction that read an eng table: the migrations
#    step waits 10 s for its lock, gives up naming the reader, and nothing
#    is undone. The reader keeps running.
hold reader "select count(*) from eng.strategic_directives_v2"
reader=$(pid_of reader)
t=$(run 1 "A" "$url" "$src/runbooks/ehg-production-promotion.md" "${promo_set[@]}")
grep -q "step 'eng-migrations': ERROR 55P03: canceling statement due to lock timeout; blocked by pid $reader (application_name 'locktest-reader'" \
  "$dir/out" || fail "A: the migrations step did not give up on its lock"
# "About 10 s": the server times the wait with the wall clock, runbook the step with the monotonic one, and on a
# loaded virtual machine the two drift apart by a few milliseconds in 10 s (9.985 s was seen).
ten_s='(9\.9[0-9]*|1[0-1]\.[0-9]*)s'
grep -Eq '^\[[0-9]*/[0-9]*\] failed: SQLSTATE 55P03 in '"$ten_s"'$' "$dir/out" || fail "A: not a 10 s lock timeout"
[ "$t" -lt 40 ] || fail "A: the run took ${t}s"
grep -qx 'undone, newest first: nothing; the verified backup stays at .*' "$dir/out" || fail "A: something was undone"
[ "$(q "select count(*) from pg_stat_activity where pid = $reader")" = 1 ] || fail "A: the reader was disturbed"
release
same "A"
echo "A. promotion: the migrations step gave up after 10 s (run ${t}s)"

# A2. The view/policy step too: a reader of views.eng_governance_summary that
#     comes while the migrations run (held 2 s by a pause in a copy) holds
#     the view; the view/policy step gives up after 10 s and the migrations
#     step is undone.
copy
echo "SELECT pg_sleep(2) AS locktest_marker_a2;" >> "$dir/sql/ehg/eng/002_sensitive.sql"
late_reader view-reader locktest_marker_a2 "select count(*) from views.eng_governance_summary"
t=$(run 1 "A2" "$url" "$dir/runbooks/ehg-production-promotion.md" "${promo_set[@]}")
reader=$(pid_of view-reader)
[ -n "$reader" ] || fail "A2: the reader is gone"
grep -q "step 'eng-views-and-policies': ERROR 55P03: canceling statement due to lock timeout; blocked by pid $reader (application_name 'locktest-view-reader'" \
  "$dir/out" || fail "A2: the view/policy step did not give up on its lock"
grep -Eq '^\[[0-9]*/[0-9]*\] failed: SQLSTATE 55P03 in '"$ten_s"'$' "$dir/out" || fail "A2: not a 10 s lock timeout"
[ "$t" -lt 40 ] || fail "A2: the run took ${t}s"
grep -qx 'Undone: eng-migrations' "$dir/out" || fail "A2: not the undo of eng-migrations"
release
same "A2"
echo "A2. promotion: the view/policy step gave up after 10 s (run ${t}s)"

# B. A reader of an eng table: the direct path's apply gives up after 10 s;
#    it rolled back in its own transaction, nothing is undone.
hold table-reader "select count(*) from eng.strategic_directives_v2"
reader=$(pid_of table-reader)
t=$(run 1 "B" "$url" "$src/runbooks/ehg-direct-to-production.md" "${direct_set[@]}")
grep -q "step 'apply': ERROR 55P03: canceling statement due to lock timeout; blocked by pid $reader (application_name 'locktest-table-reader'" \
  "$dir/out" || fail "B: apply did not give up on its lock"
grep -qx 'undone, newest first: nothing; the backup of Gate 1: .*' "$dir/out" || fail "B: something was undone"
[ "$t" -lt 40 ] || fail "B: the run took ${t}s"
release
same "B"
echo "B. direct path: apply gave up after 10 s (run ${t}s)"

# C. The rollback gives up too. A migration (in a copy) turns row-level
#    security off, so the RLS gate stops the promotion after the changes;
#    while that migration runs, a reader opens a transaction on
#    views.eng_governance_summary. The undo of the eng view/policy step
#    needs that view's lock: it gives up after 10 s (exit 6, undo
#    incomplete) instead of waiting for the reader's 120 s.
copy
cat >> "$dir/sql/ehg/vh/002_linkage.sql" <<'SQL'
ALTER TABLE eng.sensitive_credentials_registry NO FORCE ROW LEVEL SECURITY;
SELECT pg_sleep(2) AS locktest_marker_c;
SQL
late_reader late-reader locktest_marker_c "select count(*) from views.eng_governance_summary"
t=$(run 6 "C" "$url" "$dir/runbooks/ehg-production-promotion.md" "${promo_set[@]}")
grep -q "step 'rls-fail-closed': gate closed: row-level security is off (or not forced) on eng.sensitive_credentials_registry" \
  "$dir/out" || fail "C: the RLS gate did not close"
grep -q '^psql:<stdin>:[0-9]*: ERROR:  canceling statement due to lock timeout$' "$dir/out" || fail "C: the undo did not give up on its lock"
grep -Eq '^\[undo 3/4\] failed: exit 3 in '"$ten_s"'$' "$dir/out" || fail "C: the undo of the view/policy step did not fail after 10 s"
grep -qx 'The undo is incomplete: the undo of eng-views-and-policies failed' "$dir/out" || fail "C: not the undo of eng-views-and-policies"
grep -qx 'undone, newest first: vh-views-and-policies vh-migrations eng-migrations; the verified backup stays at .*' "$dir/out" \
  || fail "C: the other undos did not run"
[ "$t" -lt 60 ] || fail "C: the run took ${t}s"
[ "$(q "select count(*) from pg_stat_activity where application_name = 'locktest-late-reader'")" = 1 ] \
  || fail "C: the reader was not there (the test did not hold the lock)"
release
[ "$(q "select relforcerowsecurity from pg_class where oid = 'eng.sensitive_credentials_registry'::regclass")" = t ] \
  || fail "C: the undo of the migrations did not force row-level security again"
same "C"
echo "C. promotion: the undo gave up after 10 s, exit 6 (run ${t}s)"

# D. A role that is neither superuser nor in pg_read_all_stats, owning what
#    it needs (member of ehg_admin and analyst_ro, BYPASSRLS for pg_dump).
#    Six application sessions queue behind a lock held by another user:
#    pg_stat_activity shows the role no lock wait at all, pg_locks shows all
#    six, and both runbooks' lock-wait abort conditions fire before any change.
q "create role rb_operator login bypassrls; grant ehg_admin, analyst_ro to rb_operator; create table public.lock_bait (i int); grant select on public.lock_bait to public"
whole > "$dir/before.sql"
opurl=${url/postgres@/rb_operator@}
[ "$opurl" != "$url" ] || fail "D: cannot make the operator's connection string from $url"
[ "$(psql -XAtq "$opurl" -c "select pg_has_role('pg_read_all_stats', 'USAGE') or rolsuper from pg_roles where rolname = current_user")" = f ] \
  || fail "D: the operator role is privileged"
hold bait-holder "lock table public.lock_bait in access exclusive mode"
for i in 1 2 3 4 5 6; do
  psql -XAtq "$url" -c "set application_name = 'locktest-waiter-$i'" -c "select * from public.lock_bait" > /dev/null 2>&1 &
  bg+=($!)
done
wait_for "six waiters" "select count(*) = 6 from pg_locks where not granted"
waiters_since=$SECONDS
[ "$(psql -XAtq "$opurl" -c "select count(*) from pg_stat_activity where wait_event_type = 'Lock'")" = 0 ] \
  || fail "D: pg_stat_activity shows the operator other users' waits (the premise of this test)"
[ "$(psql -XAtq "$opurl" -c "select count(distinct pid) from pg_locks where not granted")" = 6 ] \
  || fail "D: pg_locks does not show the operator the six waiters"
run 4 "D, promotion" "$opurl" "$src/runbooks/ehg-production-promotion.md" "${promo_set[@]}" > /dev/null
grep -q "gate open: role rb_operator sees every session's locks in pg_locks" "$dir/out" || fail "D: the monitor gate"
grep -q "abort condition 'lock-waits' fired: 6 other sessions waiting on locks: [0-9]* (locktest-waiter-" "$dir/out" \
  || fail "D, promotion: the lock-wait abort did not fire"
grep -q '^\[[0-9]*/[0-9]*\] Promotion sequence\|eng-before (sql)' "$dir/out" && fail "D, promotion: a change step ran"
grep -qx 'undone, newest first: nothing; the verified backup stays at .*' "$dir/out" || fail "D, promotion: something was undone"
while [ $((SECONDS - waiters_since)) -lt 11 ]; do sleep 0.5; done
run 4 "D, direct" "$opurl" "$src/runbooks/ehg-direct-to-production.md" "${direct_set[@]}" > /dev/null
grep -q "abort condition 'lock-waits' fired: 6 other sessions have waited on locks for more than 10 seconds: [0-9]* (locktest-waiter-" \
  "$dir/out" || fail "D, direct: the lock-wait abort did not fire"
grep -q 'tables-before (sql)' "$dir/out" && fail "D, direct: a change step ran"
grep -qx 'undone, newest first: nothing; the backup of Gate 1: .*' "$dir/out" || fail "D, direct: something was undone"
release
same "D" # (pg_dump would wait for the bait's lock: compared once it is released)
echo "D. the lock-wait abort conditions see other users' waits as a non-privileged role"

# E. A server where the role cannot read pg_locks (SELECT revoked from
#    PUBLIC and from every role granted it): the monitor gate refuses before
#    any change, saying why.
readers=$(q "select string_agg(case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end, ', ')
             from pg_class c, aclexplode(c.relacl) a
             where c.oid = 'pg_catalog.pg_locks'::regclass and a.grantee <> c.relowner")
[ -n "$readers" ] || fail "E: nobody may read pg_locks to begin with"
q "revoke select on pg_catalog.pg_locks from $readers"
[ "$(psql -XAtq "$opurl" -c "select has_table_privilege('pg_catalog.pg_locks', 'SELECT')")" = f ] \
  || fail "E: the operator can still read pg_locks"
run 3 "E, promotion" "$opurl" "$src/runbooks/ehg-production-promotion.md" "${promo_set[@]}" > /dev/null
grep -q "step 'lock-monitor-visible': gate closed: role rb_operator cannot read pg_locks: the lock-wait abort condition would see no other session" \
  "$dir/out" || fail "E, promotion: the monitor gate did not refuse"
run 3 "E, direct" "$opurl" "$src/runbooks/ehg-direct-to-production.md" "${direct_set[@]}" > /dev/null
grep -q "step 'lock-monitor-visible': gate closed: role rb_operator cannot read pg_locks" "$dir/out" \
  || fail "E, direct: the monitor gate did not refuse"
q "grant select on pg_catalog.pg_locks to $readers"
same "E"
echo "ehg lock safety ok"
