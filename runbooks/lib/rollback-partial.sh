#!/usr/bin/env bash
# rollback-partial.sh COMPONENT... -- the partial rollback of
# ehg-promotion-rollback.md (COMPONENT: eng or vh).
#
# Takes back what the promotion changed in how a component is reached,
# keeping every row: for each component, in ONE transaction on
# $PROD_DATABASE_URL,
#   * the views views.COMPONENT_* and the row security policies on the
#     COMPONENT tables go back to the verified backup ($BACKUP_FILE): those
#     created since are dropped, those replaced are restored;
#   * the privileges on the schema COMPONENT, on its tables and sequences and
#     on those views go back to the backup's: everything granted to others
#     than the owner is revoked, then the backup's grants are replayed -- so
#     a table the promotion created (not in the backup) keeps its rows but
#     no role other than its owner may use it, and with its policies gone and
#     row-level security left on and forced, it is closed, not open;
#   * the migrations of those views and policies logged since the backup are
#     taken out of audit.migration_log; tables and their data stay, and so
#     do the logged migrations that created them;
#   * a NOTE row in audit.change_log records the rollback.
# Nothing is dropped with CASCADE: an object that depends on one of those
# views makes the transaction fail (rollback-dependents.sql names it first
# in the runbook's gate). Every statement gives up waiting for a lock after
# 10 s. Tables, columns and rows are never dropped.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: rollback-partial.sh eng|vh..." >&2; exit 2; }
: "${PROD_DATABASE_URL:?}" "${BACKUP_FILE:?}"
test -s "$BACKUP_FILE"
# The dump of the schemas as they are, taken just before (the runbook's pre-rollback-dump step).
[ -s "${SAFETY_FILE:-}" ] || { echo "no pre-rollback dump (SAFETY_FILE): run the rollback from its pre-rollback-dump step" >&2; exit 1; }
export PGOPTIONS="${PGOPTIONS:-} -c lock_timeout=10s"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pg_restore --list "$BACKUP_FILE" > "$tmp/toc"
# The migrations the backup had logged.
pg_restore --data-only --schema=audit --table=migration_log --file=- "$BACKUP_FILE" |
  awk -F'\t' '/^COPY /{on=1; next} /^\\\.$/{on=0} on{print $1}' > "$tmp/migrations"
: > "$tmp/definitions"
: > "$tmp/acl"
for c in "$@"; do
  case $c in eng | vh) ;; *) echo "unknown component '$c' (eng, vh)" >&2; exit 2 ;; esac
  grep -E "^[0-9]+; [0-9]+ [0-9]+ (VIEW views ${c}_|ACL views TABLE ${c}_|POLICY ${c} )" "$tmp/toc" >> "$tmp/definitions" || true
  grep -E "^[0-9]+; [0-9]+ [0-9]+ ACL (- SCHEMA ${c} |${c} (TABLE|SEQUENCE) )" "$tmp/toc" >> "$tmp/acl" || true
done
restore() {  # the entries listed in $1, as SQL, lock timeout kept
  if [ -s "$1" ]; then
    pg_restore "${@:2}" --use-list="$1" --file=- "$BACKUP_FILE" |
      sed "s/^SET lock_timeout = 0;\$/SET lock_timeout = '10s';/"
  fi
}
{
  cat <<'SQL'
SELECT set_config('ehg.components', :'components', true),
       set_config('ehg.keep', :'keep', true) \g /dev/null
DO $$
DECLARE
  keep text := ' ' || replace(current_setting('ehg.keep'), E'\n', ' ') || ' ';
  c text;
  r record;
  n bigint;
BEGIN
  FOREACH c IN ARRAY string_to_array(current_setting('ehg.components'), ' ') LOOP
    -- Views and policies the backup does not have go; the backup's come back below.
    FOR r IN SELECT viewname FROM pg_views WHERE schemaname = 'views' AND viewname LIKE c || '\_%' LOOP
      IF position(' VIEW views ' || r.viewname || ' ' IN keep) = 0 THEN
        EXECUTE format('DROP VIEW views.%I', r.viewname);
        RAISE NOTICE 'dropped view views.% (not in the backup)', r.viewname;
      END IF;
    END LOOP;
    FOR r IN SELECT tablename, policyname FROM pg_policies WHERE schemaname = c LOOP
      IF position(' POLICY ' || c || ' ' || r.tablename || ' ' || r.policyname || ' ' IN keep) = 0 THEN
        EXECUTE format('DROP POLICY %I ON %I.%I', r.policyname, c, r.tablename);
        RAISE NOTICE 'dropped policy % on %.% (not in the backup)', r.policyname, c, r.tablename;
      END IF;
    END LOOP;
    -- Every privilege held by others than the owner goes; the backup's are granted again below.
    FOR r IN
      SELECT CASE k.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || k.oid::regclass::text AS target,
             a.privilege_type, a.grantee
      FROM pg_class k JOIN pg_namespace s ON s.oid = k.relnamespace, aclexplode(k.relacl) a
      WHERE (s.nspname = c OR (s.nspname = 'views' AND k.relname LIKE c || '\_%'))
        AND k.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND a.grantee <> k.relowner
      UNION ALL
      SELECT 'SCHEMA ' || quote_ident(s.nspname), a.privilege_type, a.grantee
      FROM pg_namespace s, aclexplode(s.nspacl) a
      WHERE s.nspname = c AND a.grantee <> s.nspowner
    LOOP
      EXECUTE format('REVOKE %s ON %s FROM %s', r.privilege_type, r.target,
                     CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END);
    END LOOP;
    -- Tables the backup does not have: kept, with their rows, closed.
    FOR r IN SELECT k.oid::regclass AS rel FROM pg_class k JOIN pg_namespace s ON s.oid = k.relnamespace
             WHERE s.nspname = c AND k.relkind IN ('r', 'p') LOOP
      IF position(' TABLE ' || c || ' ' || (SELECT relname FROM pg_class WHERE oid = r.rel) || ' ' IN keep) = 0 THEN
        EXECUTE format('SELECT count(*) FROM %s', r.rel) INTO n;
        RAISE NOTICE 'kept % (not in the backup) with its % rows, closed: no grants, no policies', r.rel, n;
      END IF;
    END LOOP;
  END LOOP;
END $$;
SQL
  restore "$tmp/definitions" --clean --if-exists
  restore "$tmp/acl"
  cat <<'SQL'
SELECT set_config('ehg.migrations', :'migrations', true) \g /dev/null
DELETE FROM audit.migration_log m
USING unnest(string_to_array(:'components', ' ')) AS u (c)
WHERE (m.migration LIKE 'views/' || c || '\_%' OR m.migration LIKE 'policies/' || c || '\_%')
  AND NOT m.migration = ANY (string_to_array(current_setting('ehg.migrations'), E'\n'));
INSERT INTO audit.change_log (table_name, operation, row_data)
VALUES ('rollback', 'NOTE', jsonb_build_object('mode', 'partial', 'components', :'components',
        'backup', :'backup', 'pre_rollback_dump', :'safety', 'promotion_note', :'note'));
SQL
} | psql "$PROD_DATABASE_URL" -X -q -o /dev/null --single-transaction -v ON_ERROR_STOP=1 \
      -v components="$*" -v keep="$(grep -E ' (TABLE|VIEW|POLICY) ' "$tmp/toc" | grep -v ' ACL ')" \
      -v migrations="$(cat "$tmp/migrations")" -v backup="$BACKUP_FILE" -v safety="$SAFETY_FILE" \
      -v note="${PROMOTION_NOTE_ID:-}" -f -
echo "partial rollback of $*: views, policies and privileges as in $BACKUP_FILE; tables and rows kept"
