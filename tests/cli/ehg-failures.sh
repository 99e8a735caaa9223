#!/usr/bin/env bash
# The production runbooks never leave the database worse than doing nothing.
# On a staged EHG database with a view outside the EHG schemas depending on
# an EHG table: a corrupt backup, a refused checklist, a role that reaches
# eng tables through membership, a migration that turns row-level security
# off, and (outside its window) the direct path's window gate each stop the
# run; what it changed is undone and a pg_dump of the whole database is the
# same as before (sequence positions aside), the outside view included.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.3; rm -rf "$dir" "${srv:-/nonexistent}"' EXIT
fail() { echo "FAIL: $*"; echo "--- out"; cat "$dir/out" 2>/dev/null; exit 1; }
"$bin" run --ephemeral-db --keep-db --no-audit --set CODEX_STAGING_PASSWORD=cdx-staging-pw-7781 \
  "$src/runbooks/ehg-staging.md" > "$dir/out" 2>&1 || fail "staging"
url=$(sed -n "s/^  psql '\(.*\)'$/\1/p" "$dir/out")
pid=$(sed -n 's/.*keeps running (pid \([0-9]*\)).*/\1/p' "$dir/out")
srv=$(sed -n 's/.*rm -rf \(.*\)$/\1/p' "$dir/out")
q() { psql -XAtq "$url" -c "$1"; }
q "create view public.directive_ids as select id from eng.strategic_directives_v2"
whole() { pg_dump "$url" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^SELECT pg_catalog.setval' | sed '/^$/d'; }
whole > "$dir/before.sql"
same() { # same CASE: the whole database as before, the outside view there
  whole > "$dir/after.sql"
  diff -u "$dir/before.sql" "$dir/after.sql" > "$dir/diff" || { cat "$dir/diff"; fail "$1: the database changed"; }
  [ "$(q "select to_regclass('public.directive_ids') is not null")" = t ] || fail "$1: the outside view is gone"
}
promote() { # promote EXPECTED-EXIT CASE RUNBOOK-DIR [ARGS...]
  local want=$1 name=$2 rbdir=$3 rc=0; shift 3
  "$bin" run --no-audit --set "PROD_DATABASE_URL=$url" --set "BACKUP_DIR=$dir" "$@" \
    "$rbdir/ehg-production-promotion.md" > "$dir/out" 2>&1 < /dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc"
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
rc=0; "$bin" run --yes --confirm "DIRECT TO PRODUCTION" --no-audit --set "PROD_DATABASE_URL=$url" \
  --set "BACKUP_DIR=$dir" --set REHEARSAL_OVERRIDE=rehearsal "$src/runbooks/ehg-direct-to-production.md" \
  > "$dir/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "cross-boundary privileges: vh_service DELETE eng\." "$dir/out" || fail "direct, membership: rc=$rc"
same "direct, membership"
q "revoke eng_service from vh_service"
whole > "$dir/before.sql"

# 5. The direct path outside its window: refused before any change.
hour=$(date -u +%H)
if [ "$hour" -lt 2 ] || [ "$hour" -ge 4 ]; then
  rc=0; "$bin" run --yes --confirm "DIRECT TO PRODUCTION" --no-audit --set "PROD_DATABASE_URL=$url" \
    --set "BACKUP_DIR=$dir" "$src/runbooks/ehg-direct-to-production.md" > "$dir/out" 2>&1 || rc=$?
  [ "$rc" = 3 ] && grep -q "step 'maintenance-window': gate closed" "$dir/out" || fail "direct: the window gate, rc=$rc"
  same "direct, closed window"
fi
echo "ehg failure paths ok"
