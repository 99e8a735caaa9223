#!/usr/bin/env bash
# rollback-restore.sh -- the immediate rollback of ehg-promotion-rollback.md.
#
# Puts the schemas eng, vh, views and audit back exactly as the promotion's
# verified backup ($BACKUP_FILE, pg_dump --format=custom of those four) has
# them, on $PROD_DATABASE_URL, in ONE transaction: the dependents check
# (rollback-dependents.sql), the four schemas emptied and dropped without
# CASCADE (rollback-drop-schemas.sql), the backup restored, and a NOTE row
# in audit.change_log saying so. Any error rolls all of it back: production
# is then exactly as before. Every statement gives up waiting for a lock
# after 10 s (pg_restore's own "SET lock_timeout = 0" is replaced), so the
# application is never queued behind the rollback for long.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${PROD_DATABASE_URL:?}" "${BACKUP_FILE:?}"
test -s "$BACKUP_FILE"
# The dump of the schemas as they are, taken just before (the runbook's pre-rollback-dump step).
[ -s "${SAFETY_FILE:-}" ] || { echo "no pre-rollback dump (SAFETY_FILE): run the rollback from its pre-rollback-dump step" >&2; exit 1; }
export PGOPTIONS="${PGOPTIONS:-} -c lock_timeout=10s"
{
  pg_restore --file=- "$BACKUP_FILE" | sed "s/^SET lock_timeout = 0;\$/SET lock_timeout = '10s';/"
  cat <<'SQL'
INSERT INTO audit.change_log (table_name, operation, row_data)
VALUES ('rollback', 'NOTE', jsonb_build_object('mode', 'immediate', 'backup', :'backup',
        'pre_rollback_dump', :'safety', 'promotion_note', :'note', 'promotion_wal', :'wal'));
SQL
} | psql "$PROD_DATABASE_URL" -X -q -o /dev/null --single-transaction -v ON_ERROR_STOP=1 \
      -v scope=immediate -v components= -v backup="$BACKUP_FILE" -v safety="$SAFETY_FILE" \
      -v note="${PROMOTION_NOTE_ID:-}" -v wal="${PROMOTION_WAL:-}" \
      -f "$here/rollback-dependents.sql" -f "$here/rollback-drop-schemas.sql" -f -
echo "eng, vh, views and audit are as in $BACKUP_FILE"
