#!/usr/bin/env bash
# rollback-check-backup.sh -- the backup gate of ehg-promotion-rollback.md.
#
# Is $BACKUP_FILE the verified backup the last promotion took, fit to be
# restored? Prints one line -- what was found, or why not -- and exits 0 only
# when all of these hold:
#   * it is the file the promotion's NOTE row names ($PROMOTION_BACKUP),
#     the same file (not a copy with the same name elsewhere);
#   * it is not empty and pg_restore can read it (a pg_dump archive);
#   * it holds the four EHG schemas (eng, vh, views, audit) with the audit
#     trail's data, and nothing from any other schema: restoring it can
#     touch nothing else;
#   * pg_dump wrote it before the promotion finished ($PROMOTION_EPOCH).
set -uo pipefail
file=${BACKUP_FILE:-}
if [ -z "$file" ]; then echo "no backup: the promotion's NOTE row names none, and BACKUP_FILE is not set"; exit 1; fi
if [ ! -s "$file" ]; then echo "no backup at $file, or it is empty"; exit 1; fi
if [ "$(realpath -e -- "$file")" != "$(realpath -e -- "${PROMOTION_BACKUP:-/nonexistent}" 2>/dev/null)" ]; then
  echo "$file is not the backup the last promotion took (${PROMOTION_BACKUP:-none recorded})"; exit 1
fi
toc=$(pg_restore --list -- "$file" 2>&1) || {
  echo "pg_restore cannot read $file, it is not a valid pg_dump archive: $(printf '%s' "$toc" | head -1)"; exit 1
}
entries=$(printf '%s\n' "$toc" | grep -v -e '^;' -e '^$')
for s in eng vh views audit; do
  printf '%s\n' "$entries" | grep -qE "^[0-9]+; [0-9]+ [0-9]+ SCHEMA - $s " || {
    echo "$file does not hold the schema $s: not a backup the promotion took"; exit 1; }
done
printf '%s\n' "$entries" | grep -qE '^[0-9]+; [0-9]+ [0-9]+ TABLE DATA audit migration_log ' || {
  echo "$file holds no data of audit.migration_log: not a backup the promotion took"; exit 1; }
other=$(printf '%s\n' "$entries" |
  grep -vE '^[0-9]+; [0-9]+ [0-9]+ ((SCHEMA|ACL|COMMENT) - (SCHEMA )?(eng|vh|views|audit) |[A-Z][A-Z ]* (eng|vh|views|audit) )' | head -1)
if [ -n "$other" ]; then
  echo "$file holds more than the EHG schemas (for example: $other): restoring it would touch other objects"; exit 1
fi
created=$(printf '%s\n' "$toc" | sed -n 's/^; Archive created at //p')
created_epoch=$(date -u -d "$created" +%s 2>/dev/null) || { echo "$file: no creation time in the archive"; exit 1; }
if [ -n "${PROMOTION_EPOCH:-}" ] && [ "$created_epoch" -gt "${PROMOTION_EPOCH%.*}" ]; then
  echo "$file was written at $created, after the promotion finished: not the promotion's backup"; exit 1
fi
echo "$file: pg_dump archive of eng, vh, views and audit written $created, $(printf '%s\n' "$entries" | grep -c ' TABLE DATA ') tables of data, $(stat -c %s -- "$file") bytes"
