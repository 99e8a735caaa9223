#!/usr/bin/env bash
# The EHG staging bring-up is safe to point at the wrong server and to run
# again, on one throwaway PostgreSQL kept between runs:
#   - a second run passes and keeps every role's password hash (pg_authid);
#     --set ROTATE_PASSWORDS=1 changes every one of them;
#   - a database with EHG schemas and no staging marker (the marker removed,
#     or schemas made by hand), and a fresh database on a server whose EHG
#     roles are not marked staging, are refused with exit 3 before anything
#     changes: pg_dump and pg_authid are the same afterwards;
#   - codex_staging cannot write an audit row in another role's name, nor
#     fake a row change; its notes carry its own name, even with a table-wide
#     INSERT grant; the audit trigger's rows name it;
#   - codex_staging cannot read pg_catalog or information_schema (the other
#     EHG roles still can); PostgreSQL lets it ALTER ROLE itself SET, and the
#     next run clears what it set.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; rm -rf "$dir" "${srv:-/nonexistent}"' EXIT
fail() { echo "FAIL: $*"; echo "--- out"; cat "$dir/out" 2>/dev/null; exit 1; }
rb="$src/runbooks/ehg-staging.md"

"$bin" run --ephemeral-db --keep-db --no-audit "$rb" > "$dir/out" 2>&1 || { kept_server "$dir/out" || true; fail "first run"; }
kept_server "$dir/out" || fail "no kept server"
[ -n "$url" ] && [ -n "$pid" ] || fail "no kept server"
q() { psql -XAtq -v ON_ERROR_STOP=1 "$url" -c "$1"; }
qdb() { local db=$1; shift; psql -XAtq -v ON_ERROR_STOP=1 "$url" -c "\\c $db" -c "$1"; }
# as ROLE SQL: run SQL as ROLE (SET ROLE), print its output and errors
as() { psql -XAtq -v ON_ERROR_STOP=1 "$url" -c "set role $1" -c "$2" 2>&1; }
roles="'ehg_admin','eng_service','vh_service','analyst_ro','codex_staging'"
hashes() { q "select rolname || ' ' || coalesce(rolpassword, 'NULL') from pg_authid where rolname in ($roles) order by 1"; }
whole() { # whole DB: pg_dump of database DB, sequence positions aside
  pg_dump "${url/\/postgres\?//$1?}" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^SELECT pg_catalog.setval' | sed '/^$/d'
}
staging() { # staging EXPECTED-EXIT CASE DB [ARGS...]
  local want=$1 name=$2 db=$3 rc=0; shift 3
  "$bin" run --no-audit --db "${url/\/postgres\?//$db?}" "$@" "$rb" > "$dir/out" 2>&1 < /dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc"
}

# The first run marked the database and the roles.
[ "$(q "select environment from audit.environment")" = staging ] || fail "no staging marker"
[ "$(q "select count(*) from pg_roles where rolname in ($roles, 'ehg_catalog_reader') and shobj_description(oid, 'pg_authid') = 'EHG staging role'")" = 6 ] \
  || fail "roles not marked"
hashes > "$dir/h1"
[ "$(grep -c ' SCRAM-SHA-256\$4096:' "$dir/h1")" = 5 ] || { cat "$dir/h1"; fail "expected 5 SCRAM hashes"; }

# codex_staging sets a default for itself: PostgreSQL allows it.
as codex_staging "alter role codex_staging set work_mem = '64MB'" > "$dir/alter" || { cat "$dir/alter"; fail "self ALTER ROLE refused?"; }
[ "$(q "select array_to_string(setconfig, ',') from pg_db_role_setting where setrole = 'codex_staging'::regrole")" = "work_mem=64MB" ] \
  || fail "codex_staging's own default not stored"
out=$(as codex_staging "alter role codex_staging set session_replication_role = replica") && fail "superuser-only setting accepted: $out"
[ "$out" = 'ERROR:  permission denied to set parameter "session_replication_role"' ] || fail "unexpected: $out"
echo "codex_staging may set its own session defaults (PostgreSQL allows it); superuser-only ones refused"

# 1. The second run passes, keeps every password, clears codex_staging's own defaults.
staging 0 "second run" postgres
hashes > "$dir/h2"
diff -u "$dir/h1" "$dir/h2" || fail "second run changed password hashes"
[ "$(grep -c 'existing password kept' "$dir/out")" = 5 ] || fail "second run: 'existing password kept' not said for the 5 roles"
[ "$(q "select count(*) from pg_db_role_setting where setrole = 'codex_staging'::regrole")" = 0 ] \
  || fail "codex_staging's own default survived the run"
grep -q 'gate open: database postgres is marked as staging' "$dir/out" || fail "target gate message"
echo "re-run keeps password hashes"

# 2. ROTATE_PASSWORDS=1 changes every one.
staging 0 "rotation" postgres --set ROTATE_PASSWORDS=1
hashes > "$dir/h3"
[ "$(LC_ALL=C join "$dir/h2" "$dir/h3" | awk '$2 != $3' | wc -l)" = 5 ] || { paste "$dir/h2" "$dir/h3"; fail "ROTATE_PASSWORDS=1 did not change all 5 hashes"; }
[ "$(grep -c 'password rotated' "$dir/out")" = 5 ] || fail "rotation not said"
echo "ROTATE_PASSWORDS=1 changes every hash"

# 3. The target guard. a) The marker removed: refused, nothing changed.
q "delete from audit.environment"
whole postgres > "$dir/before.sql"
hashes > "$dir/hb"
until_before=$(q "select rolvaliduntil from pg_roles where rolname = 'codex_staging'")
staging 3 "unmarked database" postgres
grep -q "refusing database postgres: it has EHG schemas (audit, eng, vh, views) but no staging marker (audit.environment): it may be production; nothing was changed" "$dir/out" \
  || fail "unmarked database: message"
grep -q '\[2/' "$dir/out" && fail "unmarked database: a step ran after the gate"
whole postgres > "$dir/after.sql"
diff -u "$dir/before.sql" "$dir/after.sql" || fail "unmarked database: the database changed"
hashes | diff -u "$dir/hb" - || fail "unmarked database: passwords changed"
[ "$(q "select rolvaliduntil from pg_roles where rolname = 'codex_staging'")" = "$until_before" ] || fail "unmarked database: codex expiry changed"
q "insert into audit.environment (environment) values ('production')"
staging 3 "production marker" postgres
grep -q "is marked as 'production', not staging" "$dir/out" || fail "production marker: message"
q "update audit.environment set environment = 'staging'"
echo "unmarked database refused, unchanged"

# b) EHG schemas made by hand in another database of the server.
q "create database prodlike"
qdb prodlike "create schema eng; create table eng.strategic_directives_v2 (id text primary key); insert into eng.strategic_directives_v2 values ('SD-001')"
whole prodlike > "$dir/before.sql"
staging 3 "hand-made schemas" prodlike
grep -q "refusing database prodlike: it has EHG schemas (eng) but no staging marker" "$dir/out" || fail "hand-made schemas: message"
whole prodlike > "$dir/after.sql"
diff -u "$dir/before.sql" "$dir/after.sql" || fail "hand-made schemas: the database changed"
hashes | diff -u "$dir/h3" - || fail "hand-made schemas: passwords changed"
echo "database with hand-made EHG schemas refused, unchanged"

# c) A fresh database: allowed, and marked, when the server's EHG roles are staging's.
q "create database fresh"
staging 0 "fresh database" fresh
grep -q 'gate open: database fresh is fresh: it will be marked as staging' "$dir/out" || fail "fresh database: gate message"
[ "$(qdb fresh "select environment from audit.environment")" = staging ] || fail "fresh database not marked"
hashes | diff -u "$dir/h3" - || fail "fresh database: passwords changed"
# ... refused when one of them is not marked (the server may be production's).
q "create database fresh2"
q "comment on role eng_service is null"
whole fresh2 > "$dir/before.sql"
staging 3 "unmarked roles" fresh2
grep -q "refusing database fresh2: the server's role(s) eng_service exist but are not marked as EHG staging roles" "$dir/out" \
  || fail "unmarked roles: message"
whole fresh2 > "$dir/after.sql"
diff -u "$dir/before.sql" "$dir/after.sql" || fail "unmarked roles: the database changed"
[ "$(qdb fresh2 "select count(*) from pg_namespace where nspname in ('eng','vh','views','audit')")" = 0 ] || fail "unmarked roles: schemas created"
q "comment on role eng_service is 'EHG staging role'"
echo "fresh database marked; fresh database beside unmarked roles refused"

# 4. The audit log: no row in another role's name, no faked row change.
out=$(as codex_staging "insert into audit.change_log (table_name, operation, user_name) values ('eng.strategic_directives_v2', 'NOTE', 'eng_service')") \
  && fail "codex_staging wrote a row as eng_service: $out"
[ "$out" = "ERROR:  permission denied for table change_log" ] || fail "forged user_name: $out"
out=$(as codex_staging "insert into audit.change_log (table_name, operation, row_data) values ('eng.strategic_directives_v2', 'DELETE', '{}')") \
  && fail "codex_staging faked a DELETE row: $out"
[ "$(head -1 <<< "$out")" = "ERROR:  audit.change_log: DELETE rows are written by the audit trigger only" ] || fail "faked change: $out"
out=$(as codex_staging "insert into audit.change_log (table_name, operation, row_data) values ('housekeeping', 'NOTE', '{\"n\": 1}')") \
  || fail "codex_staging note: $out"
[ "$(q "select user_name from audit.change_log where row_data = '{\"n\": 1}'")" = codex_staging ] || fail "note not stamped codex_staging"
# Even with INSERT on the whole table, the row carries the writer's name and time.
out=$(psql -XAtq -v ON_ERROR_STOP=1 "$url" 2>&1 <<'SQL'
begin;
grant insert, select on audit.change_log to codex_staging;
set role codex_staging;
insert into audit.change_log (table_name, operation, user_name, "timestamp")
values ('housekeeping', 'NOTE', 'ehg_admin', '2001-01-01') returning user_name, "timestamp" = now();
rollback;
SQL
) || fail "table-wide grant: $out"
[ "$out" = "codex_staging|t" ] || fail "table-wide grant: row stamped '$out'"
as codex_staging "update eng.strategic_directives_v2 set priority = 46 where id = 'SD-002'" > /dev/null || fail "codex update"
[ "$(q "select user_name || ' ' || operation || ' ' || table_name from audit.change_log order by id desc limit 1")" = \
  "codex_staging UPDATE eng.strategic_directives_v2" ] || fail "trigger row"
echo "audit rows carry the writer's name"

# 5. Catalogs: closed to codex_staging, open to the other EHG roles.
out=$(as codex_staging "select count(*) from pg_catalog.pg_roles") && fail "codex_staging read pg_roles: $out"
[ "$out" = "ERROR:  permission denied for view pg_roles" ] || fail "pg_roles: $out"
out=$(as codex_staging "select count(*) from pg_catalog.pg_class") && fail "codex_staging read pg_class: $out"
[ "$out" = "ERROR:  permission denied for table pg_class" ] || fail "pg_class: $out"
out=$(as codex_staging "select count(*) from information_schema.tables") && fail "codex_staging read information_schema: $out"
[ "$out" = "ERROR:  permission denied for view tables" ] || fail "information_schema: $out"
out=$(as codex_staging "select subname from pg_catalog.pg_subscription") && fail "codex_staging read pg_subscription: $out"
[ "$out" = "ERROR:  permission denied for table pg_subscription" ] || fail "pg_subscription: $out"
for r in ehg_admin eng_service vh_service analyst_ro; do
  [ "$(as "$r" "select count(*) > 100 from pg_catalog.pg_class")" = t ] || fail "$r cannot read pg_class"
done
echo "catalogs closed to codex_staging only"
echo "ehg staging ok"
