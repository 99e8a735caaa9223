#!/usr/bin/env bash
# The production runbooks never leave the database worse than doing nothing.
# On a staged EHG database with a view outside the EHG schemas depending on
# an EHG table: a corrupt backup, a refused checklist, missing sign-offs
# (--yes and --confirm never give them), point-in-time recovery not
# configured, a role that reaches eng tables through membership, a migration
# that turns row-level security off, a view analyst_ro may not read, and
# (outside its window) the direct path's window gate each stop the run;
# what it changed is undone and a pg_dump of the whole database is the same
# as before (sequence positions aside), the outside view included.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; rm -rf "$dir" "${srv:-/nonexistent}"' EXIT
fail() { echo "FAIL: $*"; echo "--- out"; cat "$dir/out" 2>/dev/null; exit 1; }
"$bin" run --ephemeral-db --keep-db --no-audit --set CODEX_STAGING_PASSWORD=cdx-staging-pw-7781 \
  "$src/runbooks/ehg-staging.md" > "$dir/out" 2>&1 || { kept_server "$dir/out" || true; fail "staging"; }
kept_server "$dir/out" || fail "no kept server"
q() { psql -XAtq "$url" -c "$1"; }
q "create view public.directive_ids as select id from eng.strategic_directives_v2"
whole() { pg_dump "$url" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^SELECT pg_catalog.setval' | sed '/^$/d'; }
whole > "$dir/before.sql"
same() { # same CASE: the whole database as before, the outside view there
  whole > "$dir/after.sql"
  diff -u "$dir/before.sql" "$dir/after.sql" > "$dir/diff" || { cat "$dir/diff"; fail "$1: the database changed"; }
  [ "$(q "select to_regclass('public.directive_ids') is not null")" = t ] || fail "$1: the outside view is gone"
}
# The sign-offs and the PITR override (the throwaway server archives no WAL).
signoffs=(--set "SIGNOFF_ENGINEERING_LEAD=Erin Lead" --set "SIGNOFF_DBA=Dana Admin"
  --set "SIGNOFF_SECURITY=Sam Secure" --set "SIGNOFF_PRODUCT_OWNER=Pat Owner")
signatures=(--set "SIGNOFF_DBA=Dana Admin" --set "SIGNOFF_SECURITY_OFFICER=Sol Officer" --set "SIGNOFF_CTO=Chris Chair")
pitr=(--set "PITR_OVERRIDE=test server without WAL archiving")
bare() { # bare EXPECTED-EXIT CASE RUNBOOK [ARGS...]: no sign-offs, no override unless given
  local want=$1 name=$2 rb=$3 rc=0; shift 3
  "$bin" run --no-audit --set "PROD_DATABASE_URL=$url" --set "BACKUP_DIR=$dir" "$@" \
    "$rb" > "$dir/out" 2>&1 < /dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc"
}
promote() { # promote EXPECTED-EXIT CASE RUNBOOK-DIR [ARGS...]
  local want=$1 name=$2 rbdir=$3; shift 3
  bare "$want" "$name" "$rbdir/ehg-production-promotion.md" "${signoffs[@]}" "${pitr[@]}" "$@"
}
direct() { # direct EXPECTED-EXIT CASE RUNBOOK-DIR [ARGS...]
  local want=$1 name=$2 rbdir=$3; shift 3
  bare "$want" "$name" "$rbdir/ehg-direct-to-production.md" --yes --confirm "DIRECT TO PRODUCTION" \
    "${signatures[@]}" "${pitr[@]}" "$@"
}

# 1. A corrupt backup: the backup gate closes before any change; nothing is
#    restored or dropped.
mkdir "$dir/stub"
cat > "$dir/stub/pg_dump" <<'SH'
#!/usr/bin/env bash
for a in "$@"; do case "$a" in --file=*) echo "not a dump" > "${a#--file=}" ;; esac; done
SH
chmod +x "$dir/stub/pg_dump"
PATH="$dir/stub:$PATH" promote 3 "corrupt backup" "$src/runbooks" --yes
grep -q "step 'backup-verified': gate closed" "$dir/out" || fail "corrupt backup: not the backup gate"
grep -qx "undone, newest first: nothing; the verified backup stays at .*" "$dir/out" || fail "corrupt backup: something was undone"
same "corrupt backup"

# 2. A refused checklist (no terminal, no --yes): nothing changes.
promote 3 "refused approval" "$src/runbooks"
same "refused approval"

# 2b. --yes (and the CI's --confirm PROMOTE) approve checklists, never the
#     sign-offs: without the named people the sign-off gate refuses before
#     the backup, naming who is missing ("yes" is not a name).
bare 3 "no sign-offs" "$src/runbooks/ehg-production-promotion.md" --yes --confirm PROMOTE "${pitr[@]}"
grep -q "step 'sign-offs': gate closed: sign-offs missing: SIGNOFF_ENGINEERING_LEAD, SIGNOFF_DBA, SIGNOFF_SECURITY, SIGNOFF_PRODUCT_OWNER (each the name" \
  "$dir/out" || fail "no sign-offs: the gate did not name them all"
grep -q 'backup (bash)' "$dir/out" && fail "no sign-offs: the backup ran"
same "no sign-offs"
bare 3 "partial sign-offs" "$src/runbooks/ehg-production-promotion.md" --yes --confirm PROMOTE "${pitr[@]}" \
  --set "SIGNOFF_DBA=yes" --set "SIGNOFF_PRODUCT_OWNER=Pat Owner"
grep -q "step 'sign-offs': gate closed: sign-offs missing: SIGNOFF_ENGINEERING_LEAD, SIGNOFF_DBA, SIGNOFF_SECURITY (each the name" \
  "$dir/out" || fail "partial sign-offs: not the missing ones"
same "partial sign-offs"
bare 3 "no signatures" "$src/runbooks/ehg-direct-to-production.md" --yes --confirm "DIRECT TO PRODUCTION" "${pitr[@]}" \
  --set REHEARSAL_OVERRIDE=rehearsal --set "SIGNOFF_DBA=Dana Admin"
grep -q "step 'signatures': gate closed: signatures missing: SIGNOFF_SECURITY_OFFICER, SIGNOFF_CTO (each the name" \
  "$dir/out" || fail "no signatures: the gate did not name the missing ones"
grep -q 'backup (bash)' "$dir/out" && fail "no signatures: the backup ran"
same "no signatures"

# 2c. Point-in-time recovery not configured (the test server archives no
#     WAL) and no override: the PITR gate refuses before any change.
bare 3 "no PITR" "$src/runbooks/ehg-production-promotion.md" --yes "${signoffs[@]}"
grep -q "step 'pitr-configured': gate closed: point-in-time recovery is not configured: archive_mode is off; to go on without it, say why with --set PITR_OVERRIDE=\"reason\"" \
  "$dir/out" || fail "no PITR: the gate did not refuse"
same "no PITR"
bare 3 "direct, no PITR" "$src/runbooks/ehg-direct-to-production.md" --yes --confirm "DIRECT TO PRODUCTION" \
  "${signatures[@]}" --set REHEARSAL_OVERRIDE=rehearsal
grep -q "step 'pitr-configured': gate closed: point-in-time recovery is not configured: archive_mode is off" \
  "$dir/out" || fail "direct, no PITR: the gate did not refuse"
same "direct, no PITR"

# 3. A vh role that reaches eng tables through membership: the boundary gate
#    closes after the changes, which are undone.
q "grant eng_service to vh_service"
whole > "$dir/before.sql"
promote 3 "membership" "$src/runbooks" --yes
grep -q "step 'no-cross-boundary-writes': gate closed: vh_service may DELETE eng\." "$dir/out" \
  || fail "membership: the boundary gate did not close"
grep -q '^Undone: ' "$dir/out" || fail "membership: nothing undone"
same "membership"
q "revoke eng_service from vh_service"
# 3b. A role the procedure's LIKE 'vh_%' names without an underscore after vh.
q "create role vhingest; grant eng_service to vhingest"
whole > "$dir/before.sql"
promote 3 "vhingest" "$src/runbooks" --yes
grep -q "step 'no-cross-boundary-writes': gate closed: vhingest may DELETE eng\." "$dir/out" \
  || fail "vhingest: the boundary gate did not close"
same "vhingest"
direct 1 "direct, vhingest" "$src/runbooks" --set REHEARSAL_OVERRIDE=rehearsal
grep -q "cross-boundary privileges: vhingest DELETE eng\." "$dir/out" || fail "direct, vhingest: not the boundary check"
same "direct, vhingest"
q "drop role vhingest"
whole > "$dir/before.sql"

# 4. A migration that turns row-level security off on the sensitive registry:
#    the fail-closed gate stops the promotion, and the undo of the migration
#    step forces it again.
cp -R "$src/runbooks" "$src/sql" "$dir/"
echo "ALTER TABLE eng.sensitive_credentials_registry NO FORCE ROW LEVEL SECURITY;" >> "$dir/sql/ehg/vh/002_linkage.sql"
promote 3 "rls off" "$dir/runbooks" --yes
grep -q "step 'rls-fail-closed': gate closed: row-level security is off (or not forced) on eng.sensitive_credentials_registry" \
  "$dir/out" || fail "rls off: the gate did not close"
grep -q '^Undone: .*vh-migrations' "$dir/out" || fail "rls off: the migrations were not undone"
[ "$(q "select relforcerowsecurity from pg_class where oid = 'eng.sensitive_credentials_registry'::regclass")" = t ] \
  || fail "rls off: the undo left row-level security unforced"
same "rls off"

# 4b. The direct path with that membership: its in-transaction check rolls the
#     whole apply back (nothing to undo), the database is as before.
q "grant eng_service to vh_service"
whole > "$dir/before.sql"
direct 1 "direct, membership" "$src/runbooks" --set REHEARSAL_OVERRIDE=rehearsal
grep -q "cross-boundary privileges: vh_service DELETE eng\." "$dir/out" || fail "direct, membership: not the boundary check"
same "direct, membership"
q "revoke eng_service from vh_service"
whole > "$dir/before.sql"

# 5. The direct path outside its window: refused before any change.
hour=$(date -u +%H)
if [ "$hour" -lt 2 ] || [ "$hour" -ge 4 ]; then
  direct 3 "direct, closed window" "$src/runbooks"
  grep -q "step 'maintenance-window': gate closed" "$dir/out" || fail "direct: not the window gate"
  same "direct, closed window"
fi

# 6. The view smoke tests run as analyst_ro, not as the connecting
#    superuser: with the grants (in a copy) taking analyst_ro's right to a
#    view away, both runbooks' smoke tests fail (42501) and the changes are
#    undone.
rm -rf "$dir/runbooks" "$dir/sql"
cp -R "$src/runbooks" "$src/sql" "$dir/"
echo "REVOKE SELECT ON views.eng_governance_summary FROM analyst_ro;" >> "$dir/sql/ehg/grants.sql"
promote 1 "analyst view" "$dir/runbooks" --yes
grep -q "step 'views-serve-analyst': ERROR 42501: permission denied for view eng_governance_summary" "$dir/out" \
  || fail "analyst view: the promotion's smoke test did not run as analyst_ro"
same "analyst view"
direct 1 "direct, analyst view" "$dir/runbooks" --set REHEARSAL_OVERRIDE=rehearsal
grep -q "step 'smoke-views': ERROR 42501: permission denied for view eng_governance_summary" "$dir/out" \
  || fail "direct, analyst view: the smoke test did not run as analyst_ro"
grep -q '^Undone: apply' "$dir/out" || fail "direct, analyst view: apply not undone"
same "direct, analyst view"
echo "ehg failure paths ok"
