#!/usr/bin/env bash
# The EHG staging runbook end to end on a throwaway server, its effects
# checked from outside with psql: roles and their privileges, RLS, views
# readable as analyst_ro, audit rows; and no password on the terminal.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; rm -rf "$dir" "${srv:-/nonexistent}"' EXIT
"$bin" run --ephemeral-db --keep-db --no-audit --set CODEX_STAGING_PASSWORD=cdx-staging-pw-7781 \
  "$src/runbooks/ehg-staging.md" > "$dir/out" 2>&1 || { kept_server "$dir/out" || true; cat "$dir/out"; exit 1; }
kept_server "$dir/out" || { cat "$dir/out"; exit 1; }
q() { psql -XAtq "$url" -c "$1"; }
[ "$(q "select count(*) from pg_roles where rolname in ('ehg_admin','eng_service','vh_service','analyst_ro','codex_staging')")" = 5 ]
[ "$(q "select rolsuper from pg_roles where rolname = 'ehg_admin'")" = f ]
[ "$(q "select count(*) from pg_tables where schemaname in ('eng','vh') and not rowsecurity")" = 0 ]
[ "$(q "select count(*) from pg_tables where schemaname in ('eng','vh')")" -ge 6 ]
[ "$(q "select has_table_privilege('codex_staging', 'eng.strategic_directives_v2', 'DELETE')")" = f ]
[ "$(q "select has_table_privilege('codex_staging', 'eng.strategic_directives_v2', 'UPDATE')")" = t ]
[ "$(q "select has_table_privilege('codex_staging', 'vh.ventures', 'INSERT')")" = f ]
[ "$(q "select has_table_privilege('codex_staging', 'vh.venture_directive_links', 'INSERT')")" = t ]
[ "$(q "select has_schema_privilege('codex_staging', 'eng', 'CREATE')")" = f ]
[ "$(q "select has_table_privilege('analyst_ro', 'eng.strategic_directives_v2', 'SELECT')")" = f ]
[ "$(q "select has_table_privilege('analyst_ro', 'views.eng_governance_summary', 'SELECT')")" = t ]
[ "$(q "select rolvaliduntil between now() + interval '7 hours' and now() + interval '8 hours' from pg_roles where rolname = 'codex_staging'")" = t ]
[ "$(q "set role analyst_ro; select count(*) > 0 from views.vh_linkage_status")" = t ]
[ "$(q "select count(*) > 0 from audit.change_log where user_name = 'codex_staging'")" = t ]
[ "$(q "select count(*) from audit.bootstrap_status where status = 'complete'")" = 6 ]
# The role's password was set from the secret (its hash is there), never printed.
[ "$(q "select rolpassword like 'SCRAM-SHA-256%' from pg_authid where rolname = 'codex_staging'")" = t ]
if grep -q cdx-staging-pw-7781 "$dir/out"; then echo "password printed"; exit 1; fi
echo "ehg staging ok"

# The sign-offs (names, never --yes) and the PITR override every run here
# needs: the throwaway server archives no WAL.
promo_set=(--set "SIGNOFF_ENGINEERING_LEAD=Erin Lead" --set "SIGNOFF_DBA=Dana Admin"
  --set "SIGNOFF_SECURITY=Sam Secure" --set "SIGNOFF_PRODUCT_OWNER=Pat Owner"
  --set "PITR_OVERRIDE=test server without WAL archiving")
direct_set=(--set "SIGNOFF_DBA=Dana Admin" --set "SIGNOFF_SECURITY_OFFICER=Sol Officer" --set "SIGNOFF_CTO=Chris Chair"
  --set "PITR_OVERRIDE=test server without WAL archiving")

# The promotion on the staged database succeeds, with the backup verified.
"$bin" run --yes --no-audit --set "PROD_DATABASE_URL=$url" --set "BACKUP_DIR=$dir" "${promo_set[@]}" \
  "$src/runbooks/ehg-production-promotion.md" > "$dir/promo" 2>&1 || { cat "$dir/promo"; exit 1; }
grep -q 'gate open: no vh role can write eng tables' "$dir/promo"
grep -qx '\[[0-9]*/[0-9]*\] gate open: signed off by Engineering Lead: Erin Lead; Database Admin: Dana Admin; Security Team: Sam Secure; Product Owner: Pat Owner' "$dir/promo" \
  || { echo "promotion: not the sign-offs"; cat "$dir/promo"; exit 1; }
grep -qx '\[[0-9]*/[0-9]*\] gate open: point-in-time recovery not configured (archive_mode is off); overridden: test server without WAL archiving' "$dir/promo" \
  || { echo "promotion: not the PITR override"; cat "$dir/promo"; exit 1; }
[ "$(q "select count(*) from audit.change_log where operation = 'NOTE' and table_name = 'promotion'")" = 1 ]

# A broken migration injected into a copy: phase 1 commits a change, phase 2
# fails in its own transaction (nothing to undo there); the undos of phase 1
# run newest first and the schemas end as they began.
cp -R "$src/runbooks" "$src/sql" "$dir/"
echo "CREATE TABLE eng.added_by_promotion (id int);" >> "$dir/sql/ehg/eng/002_sensitive.sql"
echo "ALTER TABLE vh.ventures ADD COLUMN broken int REFERENCES vh.no_such_table (id);" >> "$dir/sql/ehg/vh/002_linkage.sql"
dump() { pg_dump --schema-only -n eng -n vh -n views -n audit "$url" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' | sed '/^$/d'; }
dump > "$dir/before.sql"
rows_before=$(q "select count(*) from eng.strategic_directives_v2")
rc=0; "$bin" run --yes --no-audit --set "PROD_DATABASE_URL=$url" --set "BACKUP_DIR=$dir" "${promo_set[@]}" \
  "$dir/runbooks/ehg-production-promotion.md" > "$dir/broken" 2>&1 || rc=$?
[ "$rc" = 1 ] || { echo "broken promotion: expected exit 1, got $rc"; cat "$dir/broken"; exit 1; }
grep -q "step 'vh-migrations': ERROR 42P01" "$dir/broken"
grep -qx 'Undone: eng-views-and-policies eng-migrations' "$dir/broken" || { echo "broken promotion: not the undos of phase 1"; cat "$dir/broken"; exit 1; }
grep -q 'Running the failure handler "After a failure"' "$dir/broken"
grep -qx 'undone, newest first: eng-views-and-policies eng-migrations; the verified backup stays at .*' "$dir/broken"
dump > "$dir/after.sql"
diff -u "$dir/before.sql" "$dir/after.sql" || { echo "the schemas changed"; exit 1; }
[ "$(q "select to_regclass('eng.added_by_promotion') is null")" = t ]
[ "$(q "select count(*) from eng.strategic_directives_v2")" = "$rows_before" ]
echo "ehg promotion and rollback ok"

# runbook revert of a completed, recorded promotion: its undos, newest first,
# from the record (the secret URL given again) leave the four schemas as a
# pg_dump showed them before the run -- schema and rows; only a sequence's
# position stays advanced, as sequences do. A second revert is refused.
full() { pg_dump -n eng -n vh -n views -n audit "$url" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' \
  -e '^SELECT pg_catalog.setval' | sed '/^$/d'; }
full > "$dir/full-before.sql"
PROD_DATABASE_URL=$url "$bin" run --yes --audit-repo "$dir/audit" --set-env PROD_DATABASE_URL --set "BACKUP_DIR=$dir" \
  "${promo_set[@]}" "$src/runbooks/ehg-production-promotion.md" > "$dir/promo2" 2>&1 || { cat "$dir/promo2"; exit 1; }
full > "$dir/full-promoted.sql"
! diff -q "$dir/full-before.sql" "$dir/full-promoted.sql" > /dev/null || { echo "the promotion changed nothing to revert"; exit 1; }
run=$(git -C "$dir/audit" log -1 --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | sed '/^$/d')
# The record names who signed off and why PITR was overridden, as --set variables.
"$bin" show "$run" --audit-repo "$dir/audit" > "$dir/record.md"
for v in "SIGNOFF_ENGINEERING_LEAD\` | Erin Lead" "SIGNOFF_DBA\` | Dana Admin" "SIGNOFF_SECURITY\` | Sam Secure" \
         "SIGNOFF_PRODUCT_OWNER\` | Pat Owner" "PITR_OVERRIDE\` | test server without WAL archiving"; do
  grep -qxF "| \`$v | --set |" "$dir/record.md" || { echo "promotion: the record lacks | \`$v | --set |"; cat "$dir/record.md"; exit 1; }
done
rc=0; PROD_DATABASE_URL=$url "$bin" revert "$run" --audit-repo "$dir/audit" --set-env PROD_DATABASE_URL \
  > "$dir/revert" 2>&1 || rc=$?
[ "$rc" = 0 ] || { echo "revert: exit $rc"; cat "$dir/revert"; exit 1; }
grep -q '^Undone: audit-trail vh-views-and-policies vh-migrations eng-views-and-policies eng-migrations$' "$dir/revert" \
  || { echo "revert: not the promotion's undos, newest first"; cat "$dir/revert"; exit 1; }
full > "$dir/full-reverted.sql"
diff -u "$dir/full-before.sql" "$dir/full-reverted.sql" || { echo "revert: the schemas differ from before the run"; exit 1; }
rc=0; PROD_DATABASE_URL=$url "$bin" revert "$run" --audit-repo "$dir/audit" --set-env PROD_DATABASE_URL \
  > "$dir/revert" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "reverted already" "$dir/revert" || { echo "a second revert: rc=$rc"; cat "$dir/revert"; exit 1; }
echo "ehg promotion reverted"

# Direct to production: refused outside the window without the override,
# applied with it, the completion row written.
# (Inside the real window, 02:00-04:00 UTC, the first run would apply: it is left out then.)
hour=$(date -u +%H)
if [ "$hour" -lt 2 ] || [ "$hour" -ge 4 ]; then
  rc=0; "$bin" run --yes --confirm "DIRECT TO PRODUCTION" --no-audit --set "PROD_DATABASE_URL=$url" \
    --set "BACKUP_DIR=$dir" "${direct_set[@]}" "$src/runbooks/ehg-direct-to-production.md" > "$dir/direct" 2>&1 || rc=$?
  [ "$rc" = 3 ] && grep -q "step 'maintenance-window': gate closed: outside the maintenance window" "$dir/direct" \
    || { echo "direct: expected the window gate to close, rc=$rc"; cat "$dir/direct"; exit 1; }
fi
# --from past the gates keeps them: the backup gate needs the skipped backup
# step's capture; given a fresh backup, the window gate still refuses.
rc=0; "$bin" run --yes --no-audit --from apply --set "PROD_DATABASE_URL=$url" "${direct_set[@]}" \
  "$src/runbooks/ehg-direct-to-production.md" > "$dir/direct" 2>&1 || rc=$?
[ "$rc" = 3 ] && grep -q "step 'backup-fresh': this guard needs vars.BACKUP_FILE, which step 'backup'" "$dir/direct" \
  || { echo "direct --from apply: expected the backup guard to refuse, rc=$rc"; cat "$dir/direct"; exit 1; }
# A backup as the runbook takes it: the window gate refuses before any change, so nothing is undone.
pg_dump --format=custom --schema=eng --schema=vh --schema=views --schema=audit --dbname="$url" --file="$dir/fresh.dump"
if [ "$hour" -lt 2 ] || [ "$hour" -ge 4 ]; then
  rc=0; "$bin" run --yes --no-audit --from apply --set "PROD_DATABASE_URL=$url" --set "BACKUP_FILE=$dir/fresh.dump" \
    "${direct_set[@]}" "$src/runbooks/ehg-direct-to-production.md" > "$dir/direct" 2>&1 || rc=$?
  [ "$rc" = 3 ] && grep -q "step 'maintenance-window': gate closed: outside the maintenance window" "$dir/direct" \
    || { echo "direct --from apply: expected the window gate to close, rc=$rc"; cat "$dir/direct"; exit 1; }
  grep -q "gate open" "$dir/direct" || { echo "direct --from apply: the backup gate was not checked"; exit 1; }
fi
"$bin" run --yes --confirm "DIRECT TO PRODUCTION" --no-audit --set "PROD_DATABASE_URL=$url" \
  --set "BACKUP_DIR=$dir" --set REHEARSAL_OVERRIDE=rehearsal "${direct_set[@]}" \
  "$src/runbooks/ehg-direct-to-production.md" > "$dir/direct" 2>&1 || { cat "$dir/direct"; exit 1; }
# The completion row as the procedure writes it, by the connecting role; the
# smoke test found this very row by its operation.
completion=$(q "select id || '|' || table_name || '|' || user_name || '|' || (row_data->>'status') || '|' ||
                       (row_data->>'phase') || '|' || (row_data->>'checkpoint')
                from audit.change_log where operation = 'PROD_HOUSEKEEPING_COMPLETE'")
[ "${completion#*|}" = "system|postgres|success|all|pre_commit" ] \
  || { echo "direct: the completion row is '$completion'"; exit 1; }
grep -qx "\[[0-9]*/[0-9]*\] gate open: PROD_HOUSEKEEPING_COMPLETE row ${completion%%|*}: table system, by postgres, status success" "$dir/direct" \
  || { echo "direct: the smoke test did not find the completion row"; cat "$dir/direct"; exit 1; }
[ "$(q "select count(*) from audit.change_log where table_name = 'PROD_HOUSEKEEPING_COMPLETE'")" = 0 ] \
  || { echo "direct: a completion row under the old name"; exit 1; }
grep -qx '\[[0-9]*/[0-9]*\] gate open: signed by Database Administrator: Dana Admin; Security Officer: Sol Officer; Chairman/CTO: Chris Chair' "$dir/direct" \
  || { echo "direct: not the signatures"; cat "$dir/direct"; exit 1; }
echo "ehg direct to production ok"

# A smoke test that fails after the apply committed: the undo of apply takes
# back exactly what it did; the schemas and rows end as they began.
sed 's/^SELECT (SELECT count(\*) FROM views.eng_governance_summary)/SELECT (SELECT count(*) FROM views.no_such_view)/' \
  "$src/runbooks/ehg-direct-to-production.md" > "$dir/runbooks/ehg-direct-to-production.md"
grep -q 'views.no_such_view' "$dir/runbooks/ehg-direct-to-production.md" || { echo "could not break the smoke test"; exit 1; }
echo "CREATE TABLE eng.added_by_direct (id int);" >> "$dir/sql/ehg/eng/002_sensitive.sql"
sed -i '/added_by_promotion/d; /no_such_table/d' "$dir/sql/ehg/eng/002_sensitive.sql" "$dir/sql/ehg/vh/002_linkage.sql"
full > "$dir/direct-before.sql"
rc=0; "$bin" run --yes --confirm "DIRECT TO PRODUCTION" --no-audit --set "PROD_DATABASE_URL=$url" \
  --set "BACKUP_DIR=$dir" --set REHEARSAL_OVERRIDE=rehearsal "${direct_set[@]}" \
  "$dir/runbooks/ehg-direct-to-production.md" > "$dir/direct" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -qx 'apply undone' "$dir/direct" && grep -q '^Undone: apply' "$dir/direct" \
  || { echo "direct, failing smoke test: rc=$rc"; cat "$dir/direct"; exit 1; }
full > "$dir/direct-after.sql"
diff -u "$dir/direct-before.sql" "$dir/direct-after.sql" || { echo "direct: the undo of apply left changes"; exit 1; }
[ "$(q "select count(*) from audit.change_log where operation = 'PROD_HOUSEKEEPING_COMPLETE'")" = 1 ] \
  || { echo "direct: the undo did not delete its completion row (or deleted another)"; exit 1; }
[ "$(q "select to_regclass('eng.added_by_direct') is null")" = t ] || { echo "direct: the created table stayed"; exit 1; }
echo "ehg direct to production undone"

# The self-contained housekeeping check, and its tripwire on a violating tree.
"$bin" run --ephemeral-db --no-audit "$src/runbooks/ehg-housekeeping-staging.md" > "$dir/hk" 2>&1 || { cat "$dir/hk"; exit 1; }
grep -q 'no venture code writes eng tables' "$dir/hk"
cp -R "$src/examples/boundary-sample" "$dir/tree"
echo 'cur.execute("DELETE FROM eng.governance_decisions")' >> "$dir/tree/apps/vh/ingest.py"
rc=0; "$bin" run --ephemeral-db --no-audit --set "SOURCE_TREE=$dir/tree" "$src/runbooks/ehg-housekeeping-staging.md" > "$dir/hk" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'BOUNDARY VIOLATION' "$dir/hk" || { echo "tripwire: rc=$rc"; cat "$dir/hk"; exit 1; }
echo "ehg housekeeping ok"
