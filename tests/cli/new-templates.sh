#!/usr/bin/env bash
# runbook new --template basic|sql|promotion: every template passes
# check --strict, plans and dry-runs without arguments; basic is byte for
# byte the golden copy (new-templates/basic.md); an unknown template is exit
# 2 naming the templates; --list-templates and --help list them; promotion
# without its TICKET input and no terminal does not start (exit 2). Then, on a
# throwaway PostgreSQL: sql runs end to end (its expect_error= step fails as
# expected), and a failure after its change undoes it; promotion runs with
# values that satisfy its gates (the window gate by its override, and by a
# window around the current time), stops at a window that excludes now
# (exit 3), and with a failing change (ROLLOUT_PERCENT=150) or a failing
# check after the change its handler runs (exit 1; the undo restores the
# flag). The PostgreSQL part is skipped (77) without the server programs.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; sleep 0.3; rm -rf "$srv"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"
fail() { echo "new-templates: $*"; [ -f out ] && { echo "--- out"; cat out; }; exit 1; }

# The list, in --list-templates and --help.
"$bin" new --list-templates > out || fail "--list-templates failed"
[ "$(cut -d' ' -f1 out | tr '\n' ' ')" = "basic sql promotion " ] || fail "--list-templates lists $(cut -d' ' -f1 out)"
"$bin" new --help > out || fail "new --help failed"
grep -q -- '--list-templates' out && grep -q '^  promotion  a guarded production' out || fail "new --help lists no templates"
rc=0; "$bin" new --list-templates x.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] && [ ! -e x.md ] || fail "--list-templates with a FILE: exit $rc"

# Every template: written, clean under check --strict, plans, dry-runs without arguments.
for t in basic sql promotion; do
  "$bin" new --template "$t" "$t.md" > out || fail "new --template $t failed"
  grep -q "^wrote $t.md: try \`runbook check --strict $t.md\` and \`runbook run --ephemeral-db" out || fail "$t: what new says"
  rc=0; "$bin" check --strict "$t.md" > out 2>&1 || rc=$?
  [ "$rc" = 0 ] && [ ! -s out ] || fail "$t: check --strict exit $rc"
  "$bin" plan "$t.md" > out 2>&1 || fail "$t: plan failed"
  "$bin" run --dry-run "$t.md" < /dev/null > out 2>&1 || fail "$t: run --dry-run without arguments failed"
done

# basic is the default, and unchanged: byte for byte the golden copy.
"$bin" new default.md > /dev/null
cmp default.md "$here/new-templates/basic.md" || fail "new FILE differs from new-templates/basic.md"
cmp basic.md "$here/new-templates/basic.md" || fail "new --template basic differs from new-templates/basic.md"

# Never overwrites; an unknown template names the templates; both exit 2.
cp sql.md sql.before
rc=0; "$bin" new --template basic sql.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q '^runbook new: sql.md: .*never overwrites a file' out && cmp -s sql.md sql.before ||
  fail "overwrite: exit $rc"
rc=0; "$bin" new --template nope nope.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] && [ ! -e nope.md ] || fail "unknown template: exit $rc"
grep -qx "runbook new: no template 'nope': the templates are basic, sql, promotion" out || fail "unknown template: message"

# What the plans teach: undos beside the changes, the handler, the manual restore.
"$bin" plan promotion.md > out
grep -q "^      undo: promote.undo  sql  " out || fail "promotion: the change has no undo"
grep -q '^On failure: section "Roll back"' out || fail "promotion: no failure handler"
grep -q '^  "Restore from the backup" (#restore-from-the-backup)' out || fail "promotion: no manual restore"
"$bin" plan sql.md --fail-at verify > out
grep -q "^If 'verify' fails, the undo runs newest first: index-status.undo, add-status.undo" out || fail "sql: undo order"

# run EXPECTED_EXIT ARGS...: a run into out, which must end with that exit code.
run() {
  local want=$1 rc=0
  shift
  "$bin" run --no-audit "$@" < /dev/null > out 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "run $*: exit $rc, expected $want"
}

# Without a ticket, and no terminal to ask for one, the run does not start (exit 2).
run 2 --yes --confirm PROMOTE --set WINDOW_OVERRIDE=test promotion.md
grep -q '^  TICKET (the change ticket that approves this promotion)' out || fail "promotion: the missing ticket is not named"

bindir=${RUNBOOK_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
if [ ! -x "$bindir/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  echo "new-templates: no PostgreSQL server programs: the runs are skipped"
  exit 77
fi

# sql, as its prose says: every step ok, expect_error= matched.
run 0 --ephemeral-db sql.md
grep -q '^Done: 6 ok, 0 failed' out || fail "sql: not every step ran"
grep -q '^\[5/6\] ok: failed as expected (23514' out || fail "sql: the expect_error= step did not fail as expected"
grep -q '^UPDATE 1$' out || fail "sql: the input did not flag one account"

# A kept server, to look at what the runs leave behind.
printf '# T\n\n```sql\nSELECT 1;\n```\n' > one.md
"$bin" run --yes --ephemeral-db --keep-db --no-audit one.md > keep 2>&1
kept_server keep || { cat keep; fail "no kept server"; }
q() { psql -XAtc "$1" "$url"; }

# sql: the check after the change fails (no account below 0), so the
# change and the index are undone, newest first, then the handler runs.
run 1 --db "$url" --set MIN_BALANCE=0 sql.md
grep -q '^Undone: index-status add-status$' out || fail "sql: undo"
grep -q '^undone, newest first: index-status add-status$' out || fail "sql: the handler did not run"
[ "$(q "select count(*) from information_schema.columns where table_name = 'accounts' and column_name = 'status'")" = 0 ] ||
  fail "sql: the status column survived its undo"
[ "$(q "select to_regclass('accounts_status') is null")" = t ] || fail "sql: the index survived its undo"

promote=(--yes --confirm PROMOTE --set TICKET=CHG-1)

# promotion as operators run it: DATABASE_URL for the SQL steps and pg_dump,
# inside a window around the current time (UTC).
DATABASE_URL=$url run 0 "${promote[@]}" --set WINDOW_START="$(date -u -d '-1 hour' +%H:%M)" \
  --set WINDOW_END="$(date -u -d '+1 hour' +%H:%M)" promotion.md
grep -q '^Done: 8 ok, 0 failed' out || fail "promotion: not every step ran"
grep -q 'gate open: inside the maintenance window' out || fail "promotion: window gate"
grep -q 'gate open: backup backups/before-1.4.0-.*\.dump: [0-9]* bytes' out || fail "promotion: backup gate"
ls backups/before-1.4.0-*.dump > /dev/null || fail "promotion: no backup file"
[ "$(q "select percent from feature_flags where name = 'new-checkout'")" = 10 ] || fail "promotion: the flag is not at 10"

# The window override, with a reason; the ephemeral server of a rehearsal.
run 0 "${promote[@]}" --ephemeral-db --set WINDOW_OVERRIDE="test run" promotion.md
grep -q 'gate open: outside the maintenance window .*; overridden: test run' out ||
  grep -q 'gate open: inside the maintenance window' out || fail "promotion: the override"

# Outside the window: the gate stops the run before the backup (exit 3), the handler says so.
rm -rf backups
DATABASE_URL=$url run 3 "${promote[@]}" --set WINDOW_START="$(date -u -d '+2 hours' +%H:%M)" \
  --set WINDOW_END="$(date -u -d '+3 hours' +%H:%M)" promotion.md
grep -q "step 'window': gate closed: outside the maintenance window" out || fail "promotion: the closed window"
grep -q '^promotion of 1.4.0 (CHG-1) stopped at window (exit 3): ' out || fail "promotion: handler after the window"
[ ! -e backups ] || fail "promotion: a backup after a closed window"

# A failing change: the database refuses 150%; the step's transaction rolls
# back, the handler runs, the run exits 1 and the flag is as it was.
DATABASE_URL=$url run 1 "${promote[@]}" --set WINDOW_OVERRIDE=test --set ROLLOUT_PERCENT=150 promotion.md
grep -q "step 'promote': ERROR 23514: new row for relation \"feature_flags\" violates check constraint" out ||
  fail "promotion: the change did not fail"
grep -q '^Running the failure handler "Roll back"' out || fail "promotion: no handler"
grep -q '^promotion of 1.4.0 (CHG-1) stopped at promote (exit 1): ERROR 23514' out || fail "promotion: handler report"
grep -Eq '^ new-checkout \| +10 \| t' out || fail "promotion: the handler's check"
[ "$(q "select percent from feature_flags where name = 'new-checkout'")" = 10 ] || fail "promotion: the flag moved"

# A failure after the change (its check, made to fail here): the change's
# undo puts the flag back to what it was before (10), then the handler runs.
sed 's/== tonumber(vars.ROLLOUT_PERCENT)/== -1/' promotion.md > broken.md
grep -q 'percent == -1' broken.md || fail "could not break the check"
DATABASE_URL=$url run 1 "${promote[@]}" --set WINDOW_OVERRIDE=test --set ROLLOUT_PERCENT=50 broken.md
grep -q '^Undone: promote$' out || fail "promotion: the change was not undone"
grep -q '^undone, newest first: promote$' out || fail "promotion: handler after the undo"
[ "$(q "select percent from feature_flags where name = 'new-checkout'")" = 10 ] || fail "promotion: the undo did not restore 10"
echo "new-templates ok"
