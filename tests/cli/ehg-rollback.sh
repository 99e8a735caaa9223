#!/usr/bin/env bash
# ehg-promotion-rollback.md after a promotion that succeeded, on a throwaway
# server: staging brought up, production's state before the promotion made
# by taking the venture linkage away (table, view, migrations), the
# promotion run, rows written after it. Then the rollback: every refusal
# (no mode, no connection, no confirmation, a corrupt, truncated or foreign
# backup, a promotion too old for an immediate rollback, a writer still
# connected, objects outside that depend on what it replaces) leaves the
# whole database identical (pg_dump); the partial rollback takes the
# linkage's view, policies, privileges and migrations back and keeps every
# row; the immediate rollback puts the four schemas back as they were
# before the promotion and leaves everything outside them untouched.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
rb=$src/runbooks/ehg-promotion-rollback.md
dir=$(mktemp -d)
chmod 755 "$dir"
pid= wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; rm -rf "$dir" "${srv:-/nonexistent}"' EXIT
fail() { echo "FAIL: $1"; [ -f "${2:-}" ] && cat "$2"; exit 1; }

"$bin" check --strict "$rb" > "$dir/check" || fail "runbook check is not clean" "$dir/check"

"$bin" run --ephemeral-db --keep-db --no-audit --set CODEX_STAGING_PASSWORD=cdx-staging-pw-7781 \
  "$src/runbooks/ehg-staging.md" > "$dir/out" 2>&1 || { kept_server "$dir/out" || true; fail "staging bring-up" "$dir/out"; }
kept_server "$dir/out" || fail "no kept server" "$dir/out"
q() { psql -XAtq -v ON_ERROR_STOP=1 "$url" -c "$1"; }
filter() { grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' | sed '/^$/d'; }
whole() { pg_dump "$url" | filter; }                                       # everything, data included
schemas() { pg_dump --schema-only -n eng -n vh -n views -n audit "$url" | filter; }
outside() { pg_dump -N eng -N vh -N views -N audit "$url" | filter; }      # everything else, data included
roles() { q "select rolname, rolsuper, rolcanlogin, rolpassword, rolvaliduntil from pg_authid order by 1"; }
vh_acl() { q "select c.oid::regclass, c.relacl from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = 'vh' and c.relname not like 'venture_directive_links%' order by 1"; }
vh_policies() { q "select tablename || ':' || policyname from pg_policies where schemaname = 'vh' order by 1"; }

# Production before the promotion: no venture linkage yet (the promotion's
# vh/002_linkage and vh views add it), and objects of the application outside
# the EHG schemas that the rollback must leave alone.
q "drop view views.vh_linkage_status; drop table vh.venture_directive_links;
   delete from audit.migration_log where migration in ('vh/002_linkage', 'views/vh_readonly_views');
   create table public.app_settings (k text primary key, v text);
   insert into public.app_settings values ('theme', 'dark'), ('locale', 'en');
   create function public.answer() returns int language sql return 42;"
schemas > "$dir/schemas-before-promotion.sql"
vh_acl > "$dir/vh-acl-before-promotion"
vh_policies > "$dir/vh-policies-before-promotion"
[ "$(wc -l < "$dir/vh-policies-before-promotion")" = 5 ] || fail "expected 5 vh policies before the promotion"

# The promotion succeeds and brings the linkage.
PROD_DATABASE_URL=$url "$bin" run --yes --no-audit --set-env PROD_DATABASE_URL --set "BACKUP_DIR=$dir" \
  --set SIGNOFF_ENGINEERING_LEAD=e.lead --set SIGNOFF_DBA=d.ba --set SIGNOFF_SECURITY=s.officer \
  --set SIGNOFF_PRODUCT_OWNER=p.owner --set "PITR_OVERRIDE=throwaway test server" \
  "$src/runbooks/ehg-production-promotion.md" > "$dir/promo" 2>&1 || fail "the promotion" "$dir/promo"
backup=$(q "select row_data->>'backup' from audit.change_log where table_name = 'promotion' and operation = 'NOTE' order by id desc limit 1")
[ -s "$backup" ] || fail "the promotion's NOTE names no backup file ($backup)"
[ "$(q "select to_regclass('views.vh_linkage_status') is not null")" = t ] || fail "the promotion did not add the view"
[ "$(q "select has_table_privilege('vh_service', 'vh.venture_directive_links', 'INSERT')")" = t ] || fail "no vh_service grant"
[ "$(q "select count(*) from pg_policies where tablename = 'venture_directive_links'")" = 2 ] || fail "no linkage policies"

# Rows written after the promotion.
q "insert into eng.strategic_directives_v2 (id, title) values ('SD-100', 'written after the promotion');
   insert into vh.ventures (name) values ('nova');
   insert into vh.venture_directive_links (venture_id, directive_id) select id, 'SD-100' from vh.ventures where name = 'nova'"

# rollback RC ARGS...: runs the rollback, expects exit RC, output in $dir/rb.
rollback() {
  local want=$1 rc=0
  shift
  PROD_DATABASE_URL=$url "$bin" run --yes --no-audit --set-env PROD_DATABASE_URL --set "BACKUP_DIR=$dir/safety" \
    "$@" "$rb" > "$dir/rb" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "rollback $*: expected exit $want, got $rc" "$dir/rb"
}
# refused RC MESSAGE ARGS...: the rollback is refused with MESSAGE and the database is unchanged.
refused() {
  local want=$1 msg=$2
  shift 2
  whole > "$dir/whole-before"
  rollback "$want" "$@"
  grep -qF -- "$msg" "$dir/rb" || fail "rollback $*: expected '$msg'" "$dir/rb"
  whole > "$dir/whole-after"
  diff -u "$dir/whole-before" "$dir/whole-after" > "$dir/diff" || fail "rollback $*: refused, but the database changed" "$dir/diff"
}

refused 3 "choose the rollback: --set MODE=immediate"
refused 3 "a partial rollback needs its components" --set MODE=partial
refused 3 "COMPONENTS: unknown component 'audit'" --set MODE=partial --set COMPONENTS="vh audit"
# No production connection: refused before anything connects.
rc=0; env -u PROD_DATABASE_URL "$bin" run --yes --no-audit --set MODE=immediate "$rb" > "$dir/rb" 2>&1 || rc=$?
[ "$rc" = 3 ] && grep -q "gate closed: no production connection" "$dir/rb" || fail "no connection: rc=$rc" "$dir/rb"
# No typed confirmation: everything checked, the pre-rollback dump taken, nothing changed.
refused 3 "--confirm" --set MODE=immediate
grep -q "step 'restore-immediate'" "$dir/rb" || fail "not refused at the restore" "$dir/rb"
grep -q "gate open: nothing outside depends on what the rollback replaces" "$dir/rb" || fail "dependents not checked" "$dir/rb"
grep -q "^the rollback stopped at restore-immediate" "$dir/rb" || fail "no report" "$dir/rb"
refused 3 "--confirm" --set MODE=partial --set COMPONENTS=vh
grep -q "step 'rollback-partial'" "$dir/rb" || fail "not refused at the partial rollback" "$dir/rb"
refused 3 "--confirm" --set MODE=immediate --confirm "ROLLBACK PLEASE"

# The backup: corrupt, truncated, another file, a copy. Each refused before any change.
cp -p "$backup" "$dir/backup.orig"
printf 'this is no archive' | dd of="$backup" conv=notrunc status=none
refused 3 "is not a valid pg_dump archive" --set MODE=immediate --confirm ROLLBACK
refused 3 "is not a valid pg_dump archive" --set MODE=partial --set COMPONENTS=vh --confirm ROLLBACK
head -c "$(( $(stat -c %s "$dir/backup.orig") - 64 ))" "$dir/backup.orig" > "$backup"  # its table of contents still reads
refused 1 "step 'backup-readable'" --set MODE=immediate --confirm ROLLBACK
cp -p "$dir/backup.orig" "$backup"
pg_dump --format=custom -n eng -n vh -n views -n audit --file="$dir/other.dump" "$url"
refused 3 "$dir/other.dump is not the backup the last promotion took" --set MODE=immediate --confirm ROLLBACK \
  --set "BACKUP_FILE=$dir/other.dump"
cp -p "$backup" "$dir/copy.dump"
refused 3 "is not the backup the last promotion took" --set MODE=immediate --confirm ROLLBACK --set "BACKUP_FILE=$dir/copy.dump"

# Too long after the promotion for an immediate rollback, unless said so.
sleep 2
refused 3 "the immediate rollback is for the first 1s: 3 audited row changes since would be lost" \
  --set MODE=immediate --confirm ROLLBACK --set IMMEDIATE_WITHIN=1s

# A writer still connected.
host=$(printf '%s' "$url" | sed -n 's/.*host=\([^&]*\).*/\1/p' | sed 's/%2F/\//g')
port=$(printf '%s' "$url" | sed -n 's/.*port=\([0-9]*\).*/\1/p')
PGPASSWORD= psql -XAtq -h "$host" -p "$port" -U vh_service -d postgres -c 'select pg_sleep(120)' > /dev/null 2>&1 &
wpid=$!
for _ in $(seq 300); do [ "$(q "select count(*) from pg_stat_activity where usename = 'vh_service'")" = 1 ] && break; sleep 0.1; done
[ "$(q "select count(*) from pg_stat_activity where usename = 'vh_service'")" = 1 ] || fail "the vh_service session never connected"
refused 3 "writers still connected (1 of vh_service): stop the ingest service first" --set MODE=immediate --confirm ROLLBACK \
  --set IMMEDIATE_WITHIN=1h
q "select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = 'vh_service'" > /dev/null
wait "$wpid" 2>/dev/null || true; wpid=
for _ in $(seq 300); do [ "$(q "select count(*) from pg_stat_activity where usename = 'vh_service'")" = 0 ] && break; sleep 0.1; done

# Objects outside that depend on what the rollback replaces: named, and the run stops; they stay.
q "create view public.directive_titles as select id, title from eng.strategic_directives_v2"
refused 3 "view public.directive_titles depends on table eng.strategic_directives_v2" \
  --set MODE=immediate --confirm ROLLBACK --set IMMEDIATE_WITHIN=1h
# The restore's own transaction checks again (a dependent created after the gate).
rc=0; PROD_DATABASE_URL=$url BACKUP_FILE=$backup SAFETY_FILE=$dir/copy.dump "$src/runbooks/lib/rollback-restore.sh" > "$dir/rb" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "rollback stopped, nothing changed: objects outside the EHG schemas depend on them and would be dropped with them: view public.directive_titles depends on table eng.strategic_directives_v2" "$dir/rb" \
  || fail "rollback-restore.sh with a dependent: rc=$rc" "$dir/rb"
whole > "$dir/whole-after"
diff -u "$dir/whole-before" "$dir/whole-after" > "$dir/diff" || fail "rollback-restore.sh changed the database" "$dir/diff"
q "create view public.linkage_report as select * from views.vh_linkage_status"
refused 3 "view public.linkage_report depends on view views.vh_linkage_status" \
  --set MODE=partial --set COMPONENTS=vh --confirm ROLLBACK
[ "$(q "select count(*) from public.directive_titles")" = 4 ] || fail "public.directive_titles"
[ "$(q "select count(*) from public.linkage_report")" = 3 ] || fail "public.linkage_report"
q "drop view public.directive_titles, public.linkage_report"
echo "refusals ok"

# Partial rollback of vh: the linkage's view, policies, grants and logged
# migrations go; its table and every row stay; eng and everything outside
# are untouched.
pg_dump --schema-only -n eng "$url" | filter > "$dir/eng-before"
pg_dump -a -n eng "$url" | filter > "$dir/eng-data-before"
outside > "$dir/outside-before"
roles > "$dir/roles-before"
rollback 0 --set MODE=partial --set COMPONENTS=vh --confirm ROLLBACK
grep -q "NOTICE:  dropped view views.vh_linkage_status (not in the backup)" "$dir/rb" || fail "partial: view" "$dir/rb"
grep -q "NOTICE:  kept vh.venture_directive_links (not in the backup) with its 1 rows, closed" "$dir/rb" || fail "partial: kept" "$dir/rb"
[ "$(q "select to_regclass('views.vh_linkage_status') is null and to_regclass('views.eng_governance_summary') is not null")" = t ] \
  || fail "partial: views"
[ "$(q "select string_agg(v.name || '>' || l.directive_id, ',') from vh.venture_directive_links l join vh.ventures v on v.id = l.venture_id")" = "nova>SD-100" ] \
  || fail "partial: the linkage rows"
[ "$(q "select count(*) from vh.ventures")" = 3 ] || fail "partial: ventures"
[ "$(q "select count(*) from pg_policies where tablename = 'venture_directive_links'")" = 0 ] || fail "partial: linkage policies"
vh_policies > "$dir/vh-policies"
diff -u "$dir/vh-policies-before-promotion" "$dir/vh-policies" || fail "partial: vh policies are not as before the promotion"
vh_acl > "$dir/vh-acl"
diff -u "$dir/vh-acl-before-promotion" "$dir/vh-acl" || fail "partial: vh privileges are not as before the promotion"
[ "$(q "select has_table_privilege('vh_service', 'vh.venture_directive_links', 'INSERT'),
               has_table_privilege('codex_staging', 'vh.venture_directive_links', 'INSERT'),
               has_table_privilege('vh_service', 'vh.venture_directive_links', 'SELECT'),
               has_table_privilege('vh_service', 'vh.ventures', 'INSERT')")" = "f|f|f|t" ] || fail "partial: privileges"
[ "$(q "select relrowsecurity, relforcerowsecurity from pg_class where oid = 'vh.venture_directive_links'::regclass")" = "t|t" ] \
  || fail "partial: row-level security"
[ "$(q "select string_agg(migration, ',' order by migration) from audit.migration_log where migration like '%vh%'")" \
  = "policies/vh_rls_policies,vh/001_ventures,vh/002_linkage" ] || fail "partial: migration log"
[ "$(q "select row_data->>'components' from audit.change_log where table_name = 'rollback' and row_data->>'mode' = 'partial'")" = vh ] \
  || fail "partial: NOTE row"
safety=$(q "select row_data->>'pre_rollback_dump' from audit.change_log where table_name = 'rollback' and row_data->>'mode' = 'partial'")
case $safety in "$dir"/safety/ehg_prod_pre_rollback_*.dump) ;; *) fail "partial: pre-rollback dump '$safety'" ;; esac
pg_restore --file="$dir/safety.sql" "$safety" # not piped into grep -q: under pipefail an early exit fails it
grep -q "^CREATE VIEW views.vh_linkage_status" "$dir/safety.sql" || fail "partial: the pre-rollback dump lacks the view"
pg_dump --schema-only -n eng "$url" | filter > "$dir/eng-after"
diff -u "$dir/eng-before" "$dir/eng-after" || fail "partial: eng changed"
pg_dump -a -n eng "$url" | filter > "$dir/eng-data-after"
diff -u "$dir/eng-data-before" "$dir/eng-data-after" || fail "partial: eng rows changed"
outside > "$dir/outside-after"
diff -u "$dir/outside-before" "$dir/outside-after" || fail "partial: objects outside the EHG schemas changed"
roles > "$dir/roles-after"
diff -u "$dir/roles-before" "$dir/roles-after" || fail "partial: roles changed"
echo "partial rollback ok"

# Immediate rollback (escalated after the partial one): the four schemas as
# before the promotion -- definitions and rows, the rows written since the
# promotion gone from the database and kept in the pre-rollback dump --, and
# nothing outside them touched.
rollback 0 --set MODE=immediate --confirm ROLLBACK --set IMMEDIATE_WITHIN=1h
grep -q "eng, vh, views and audit are as in $backup" "$dir/rb" || fail "immediate: no restore" "$dir/rb"
schemas > "$dir/schemas-after"
diff -u "$dir/schemas-before-promotion.sql" "$dir/schemas-after" || fail "immediate: the schemas are not as before the promotion"
# Rows as in the backup, but for the rollback's NOTE row (and the sequence that numbered it).
# (Sorted: the tables come in another order, their rows do not.)
pg_restore --data-only --file=- "$backup" | filter | grep -v '^SELECT pg_catalog.setval' | sort > "$dir/data-backup"
pg_dump --data-only -n eng -n vh -n views -n audit "$url" | filter | grep -v '^SELECT pg_catalog.setval' \
  | grep -v -F '"mode": "immediate"' | sort > "$dir/data-after"
[ "$(grep -c 'harvester' "$dir/data-after")" -ge 1 ] || fail "immediate: no rows compared"
diff -u "$dir/data-backup" "$dir/data-after" || fail "immediate: the rows are not as in the backup"
[ "$(q "select count(*) from eng.strategic_directives_v2 where id = 'SD-100'")" = 0 ] || fail "immediate: SD-100 still there"
[ "$(q "select to_regclass('vh.venture_directive_links') is null and to_regclass('views.vh_linkage_status') is null")" = t ] \
  || fail "immediate: the linkage is still there"
[ "$(q "select count(*) from audit.change_log where table_name = 'promotion'")" = 0 ] || fail "immediate: the promotion's NOTE"
[ "$(q "select count(*) from audit.change_log where table_name = 'rollback' and row_data->>'mode' = 'immediate'")" = 1 ] \
  || fail "immediate: NOTE row"
safety=$(q "select row_data->>'pre_rollback_dump' from audit.change_log where table_name = 'rollback' and row_data->>'mode' = 'immediate'")
[ "$(pg_restore --data-only -n eng -t strategic_directives_v2 --file=- "$safety" | grep -c 'SD-100')" = 1 ] \
  || fail "immediate: the pre-rollback dump lacks the row written after the promotion"
outside > "$dir/outside-after"
diff -u "$dir/outside-before" "$dir/outside-after" || fail "immediate: objects outside the EHG schemas changed"
roles > "$dir/roles-after"
diff -u "$dir/roles-before" "$dir/roles-after" || fail "immediate: roles changed"
[ "$(q "select v from public.app_settings where k = 'theme'")" = dark ] || fail "immediate: public.app_settings"
# Nothing left to roll back.
refused 3 "no promotion recorded in audit.change_log" --set MODE=immediate --confirm ROLLBACK --set IMMEDIATE_WITHIN=1h
echo "immediate rollback ok"
