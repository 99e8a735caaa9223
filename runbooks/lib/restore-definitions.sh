#!/usr/bin/env bash
# restore-definitions.sh SCHEMA -- an undo of the EHG runbooks.
#
# Puts the views views.SCHEMA_* and the row security policies on SCHEMA's
# tables back as the verified backup ($BACKUP_FILE, pg_dump --format=custom)
# has them, on $PROD_DATABASE_URL, in one transaction: those created since
# the backup are dropped, those replaced are restored with their grants.
# Nothing else is touched, and nothing is dropped with CASCADE: an object
# that came to depend on one of them stops the undo (exit non-zero).
set -euo pipefail
schema=${1:?usage: restore-definitions.sh SCHEMA}
# Like every SQL step, give up waiting for a lock rather than queue the application behind it.
export PGOPTIONS="${PGOPTIONS:-} -c lock_timeout=10s"
test -s "$BACKUP_FILE"
keep=$(mktemp)
trap 'rm -f "$keep"' EXIT
pg_restore --list "$BACKUP_FILE" |
  grep -E "^[0-9]+; [0-9]+ [0-9]+ (VIEW views ${schema}_|ACL views TABLE ${schema}_|POLICY ${schema} )" > "$keep" || true
{
  cat <<'SQL'
SELECT set_config('ehg.keep', :'keep', false), set_config('ehg.schema', :'schema', false) \g /dev/null
DO $$
DECLARE
  keep text := ' ' || replace(current_setting('ehg.keep'), E'\n', ' ') || ' ';
  s text := current_setting('ehg.schema');
  r record;
BEGIN
  FOR r IN SELECT viewname FROM pg_views WHERE schemaname = 'views' AND viewname LIKE s || '\_%' LOOP
    IF position(' VIEW views ' || r.viewname || ' ' IN keep) = 0 THEN
      EXECUTE format('DROP VIEW views.%I', r.viewname);
    END IF;
  END LOOP;
  FOR r IN SELECT tablename, policyname FROM pg_policies WHERE schemaname = s LOOP
    IF position(' POLICY ' || s || ' ' || r.tablename || ' ' || r.policyname || ' ' IN keep) = 0 THEN
      EXECUTE format('DROP POLICY %I ON %I.%I', r.policyname, s, r.tablename);
    END IF;
  END LOOP;
END $$;
SQL
  if [ -s "$keep" ]; then
    # pg_restore's script starts with SET lock_timeout = 0 (wait forever):
    # keep the 10 s limit instead, for its DROP and CREATE too.
    pg_restore --clean --if-exists --use-list="$keep" --file=- "$BACKUP_FILE" |
      sed -E "s/^SET lock_timeout = [^;]*;\$/SET lock_timeout = '10s';/"
  fi
} | psql "$PROD_DATABASE_URL" -X -q --single-transaction -v ON_ERROR_STOP=1 \
      -v keep="$(cat "$keep")" -v schema="$schema" -f -
echo "views.${schema}_* and the ${schema} policies are as in $BACKUP_FILE"
