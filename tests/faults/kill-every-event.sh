#!/usr/bin/env bash
# kill -9 of runbook at every journal event of a 10-step bash+SQL run, one
# trial per event boundary (RUNBOOK_TEST_KILL_AFTER_EVENTS, record.c): each
# time the next invocation commits a complete record of what the journal
# held, and the server is left with no open transaction and no lock held.
. "$(dirname "$0")/lib.sh"
fault_setup
cd "$work"
q "CREATE TABLE counter (step text, n int)" >/dev/null
{
  echo "# Ten steps"
  for i in 1 2 3 4 5; do
    printf '\n```bash {name=b%d}\necho bash %d >> bash.log\n```\n' "$i" "$i"
    printf '\n```sql {name=s%d}\nINSERT INTO counter VALUES (%s, %d);\nSELECT count(*) AS rows FROM counter;\n```\n' "$i" "'s$i'" "$i"
  done
} > ten.md
printf '# Noop\n\n```bash\ntrue\n```\n' > noop.md

# The whole run once: how many events a complete run journals.
"$bin" run --db "$url" ten.md > out 2> err || fail "the full run failed"
ref=refs/heads/runbook-audit
journal_of_last() { git --git-dir="$work/audit" show "$ref:$(git --git-dir="$work/audit" diff-tree --root --no-commit-id --name-only -r "$ref" | grep '/journal.log$')"; }
total=$(journal_of_last | wc -l)
[ "$total" -ge 25 ] || fail "a complete run journaled only $total events"

for k in $(seq 1 $((total - 1))); do
  rc=0; RUNBOOK_TEST_KILL_AFTER_EVENTS=$k "$bin" run --db "$url" ten.md > out 2> err || rc=$?
  [ "$rc" = 137 ] || fail "trial $k: expected the run to be killed (137), got $rc"
  # The server: no session of runbook's left in a transaction, no lock held.
  for _ in $(seq 40); do
    [ "$(q "select count(*) from pg_stat_activity where application_name like 'runbook/%'")" = 0 ] && break
    sleep 0.05
  done
  [ "$(q "select count(*) from pg_stat_activity where application_name like 'runbook/%'")" = 0 ] \
    || fail "trial $k: a session of the killed run is still there"
  [ "$(q "select count(*) from pg_locks where locktype = 'advisory'")" = 0 ] || fail "trial $k: a lock is held"
  # The next invocation commits the killed run: its journal is all there.
  "$bin" run --db "$url" noop.md > out 2> err || fail "trial $k: the next run failed"
  grep -q 'committed the interrupted run' err || fail "trial $k: the killed run was not recovered"
  rec=$(git --git-dir="$work/audit" log --format=%H -n 2 "$ref" | tail -1)
  lines=$(git --git-dir="$work/audit" show "$rec:$(git --git-dir="$work/audit" diff-tree --root --no-commit-id --name-only -r "$rec" | grep '/journal.log$')" | wc -l)
  [ "$lines" -ge "$k" ] || fail "trial $k: the recovered journal has $lines events, $k were written"
  [ -z "$(ls "$work/audit/runbook/journal/" 2>/dev/null)" ] || fail "trial $k: a journal was left behind"
done
echo "kill -9 at each of $((total - 1)) journal events: every record recovered, nothing left open"
