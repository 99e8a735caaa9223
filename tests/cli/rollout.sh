#!/usr/bin/env bash
# One runbook, many targets (run --targets; docs/format.md "Targets"):
# 6 targets with -j 3 never overlap more than 3, each its own record with
# Target: and Rollout: trailers, one rollout record, the summary table; a
# failing canary starts nothing else; target 4 of 6 failing stops the
# dispatching (running ones finish) and --resume --rollout runs it from its
# failed step with the targets never started, nothing else; Ctrl-C runs every running target's
# failure handler and leaves no process; two rollouts over a shared target
# never run it twice at once (the other reports it locked); one --target
# runs here with the target's variables; --matrix names its targets; plan
# lists the targets; unset references and literal passwords are refused
# before anything runs; log --rollout lists the rollout's runs; confirm=each
# asks the rollout's operator for each target.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'pkill -f "$dir/" 2>/dev/null || true; rm -rf "$dir"' EXIT
fail() { echo "rollout: $*"; exit 1; }
cd "$dir"
chmod 755 "$dir" # as root, the throwaway server runs as postgres, in $TMPDIR
export TMPDIR=$dir/tmp
mkdir -m 755 "$TMPDIR"
git init -q audit

cat > targets.yaml <<'EOF'
targets:
  t1: {N: "1"}
  t2: {N: "2"}
  t3: {N: "3"}
  t4: {N: "4"}
  t5: {N: "5"}
  t6: {N: "6"}
  vault: {db: "host=/nonexistent dbname=app password=${VAULT_PASS}"}
groups:
  all: [t1, t2, t3, t4, t5, t6]
EOF
# Each target's step logs its start and end; FAIL_N makes target N fail at once; SLEEP how long the others work.
cat > fan.md <<EOF
---
on_failure: Clean up
---
# Fan

\`\`\`bash {name=work}
echo "start \$RUNBOOK_TARGET \$(date +%s%N)" >> $dir/times
[ "\$N" != "\${FAIL_N:-none}" ] || { echo "end \$RUNBOOK_TARGET \$(date +%s%N)" >> $dir/times; echo "failing on purpose"; exit 3; }
sleep \${SLEEP:-1}
echo "end \$RUNBOOK_TARGET \$(date +%s%N)" >> $dir/times
\`\`\`

## Clean up

\`\`\`bash {name=cleanup}
echo "handler \$RUNBOOK_TARGET" >> $dir/handlers
\`\`\`
EOF

# most_at_once: the largest number of targets between their start and end lines at one time.
most_at_once() {
  awk '{ print $3, ($1 == "start" ? 1 : -1) }' times | sort -n -k1,1 -k2,2 |
    awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}
# started: the targets that started, sorted, on one line.
started() { awk '$1 == "start" { print $2 }' times | sort | tr '\n' ' '; }
rollout_of() { sed -n 's/^Rollout \([^:]*\): .* target.*/\1/p' "$1" | head -1; }
# The audit ref's messages into $dir/messages (a file: grep -q on a pipe from git would end git early).
messages() { git -C audit log --format=%B runbook-audit > "$dir/messages"; }
runs_of() { messages; grep -c "^Rollout: $1\$" "$dir/messages" || true; }

# 1. Six targets, three at a time.
rm -f times
"$bin" run fan.md --targets all -j 3 --audit-repo audit > one.out 2>&1 || { cat one.out; fail "6 targets -j 3 failed"; }
[ "$(most_at_once)" = 3 ] || { cat times; fail "not 3 at once at most and at least: $(most_at_once)"; }
[ "$(started)" = "t1 t2 t3 t4 t5 t6 " ] || fail "not every target started: $(started)"
id=$(rollout_of one.out)
[ -n "$id" ] || { cat one.out; fail "no rollout id said"; }
# Six run records (each with its target) and the rollout's own record, the first commit (its start) and the
# last (its end).
[ "$(runs_of "$id")" = 8 ] || { cat messages; fail "not 6 runs and the rollout's 2 records"; }
[ "$(grep -c "^Rollout of Fan: running" messages)" = 1 ] || { cat messages; fail "no record of the rollout's start"; }
for t in t1 t2 t3 t4 t5 t6; do
  grep -q "^Target: $t\$" messages || fail "no record says Target: $t"
done
[ "$(git -C audit log -1 --format=%B runbook-audit | sed -n 's/^Rollout: //p')" = "$id" ] || fail "the last commit is not the rollout's"
[ -n "$(git -C audit show --name-only --format= runbook-audit | grep "rollouts/.*/rollout.json")" ] || fail "no rollout.json"
json=$(git -C audit show "runbook-audit:$(git -C audit show --name-only --format= runbook-audit | grep rollout.json)")
grep -q '"inventory_hash": "'"$(git hash-object targets.yaml)"'"' <<< "$json" || { echo "$json"; fail "the rollout record lacks the inventory's hash"; }
grep -q "^  t6  *succeeded " one.out && grep -q "6 succeeded, 0 failed" one.out || { cat one.out; fail "no summary table"; }
grep -q '^\[t4\] \[1/1\] ok' one.out || { cat one.out; fail "a target's lines are not prefixed with its name"; }
"$bin" log --rollout "$id" --audit-repo audit > log.out
[ "$(grep -c "\[t[1-6]\]" log.out)" = 6 ] || { cat log.out; fail "log --rollout does not list the 6 runs"; }

# 2. The canary fails: no other target starts; exit 1; the record says why.
rm -f times
rc=0; FAIL_N=1 "$bin" run fan.md --targets all -j 3 --canary 1 --audit-repo audit > canary.out 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat canary.out; fail "a failed canary: exit $rc"; }
[ "$(started)" = "t1 " ] || fail "targets started after the canary failed: $(started)"
git -C audit show "runbook-audit:$(git -C audit show --name-only --format= runbook-audit | grep rollout.json)" > record.json
grep -q '"stopped": "target '"'"'t1'"'"' failed"' record.json || { cat record.json; fail "the rollout record does not say why it stopped"; }
# A canary that succeeds goes on only when approved: not without a terminal or --yes (exit 3) ...
rm -f times
rc=0; "$bin" run fan.md --targets all -j 2 --canary 2 --audit-repo audit < /dev/null > canary2.out 2>&1 || rc=$?
[ "$rc" = 3 ] && [ "$(started)" = "t1 t2 " ] || { cat canary2.out; fail "an unapproved canary: exit $rc, started $(started)"; }
# ... and with --yes, recorded.
rm -f times
"$bin" run fan.md --targets all -j 3 --canary 1 --yes --audit-repo audit > canary3.out 2>&1 || { cat canary3.out; fail "--canary 1 --yes"; }
[ "$(started)" = "t1 t2 t3 t4 t5 t6 " ] && grep -q 'going on after the canary: approved (--yes)' canary3.out ||
  { cat canary3.out; fail "--canary --yes did not go on"; }
[ "$(awk '$1 == "start" { print $2; exit }' times)" = t1 ] || fail "the canary did not start first"

# 3. Target 4 of 6 fails (two at a time): nothing is dispatched after, t3 (running) finishes.
rm -f times handlers
rc=0; FAIL_N=4 "$bin" run fan.md --targets all -j 2 --audit-repo audit > four.out 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat four.out; fail "target 4 failing: exit $rc"; }
[ "$(started)" = "t1 t2 t3 t4 " ] || { cat four.out; fail "targets after the failure started: $(started)"; }
grep -q "^end t3 " times || fail "t3, running when t4 failed, did not finish"
grep -q "^  t5  *not started" four.out && grep -q "^  t4  *failed  .* work  " four.out || { cat four.out; fail "the table"; }
[ "$(cat handlers)" = "handler t4" ] || fail "the failure handler ran for: $(cat handlers)"
# --keep-going goes on; --max-failures 2 bounds it.
rm -f times
rc=0; FAIL_N=2 "$bin" run fan.md --targets all -j 2 --keep-going --audit-repo audit > keep.out 2>&1 || rc=$?
[ "$rc" = 1 ] && [ "$(started)" = "t1 t2 t3 t4 t5 t6 " ] || { cat keep.out; fail "--keep-going: exit $rc, started $(started)"; }

# 3b. --resume --rollout ID: target 4 from its failed step, the never-started ones afresh, nothing else;
# resumed again: nothing left; the first one again: refused, naming the rollout that resumed it.
cat > two.md <<EOF
# Two

\`\`\`bash {name=prep}
echo "prep \$RUNBOOK_TARGET" >> $dir/two.log
\`\`\`

\`\`\`bash {name=work}
[ "\$N" != "\${FAIL_N:-none}" ] || { echo "failing on purpose"; exit 3; }
[ -z "\${FAIL_N:-}" ] || sleep 1 # the others still run when target FAIL_N fails
echo "work \$RUNBOOK_TARGET" >> $dir/two.log
\`\`\`
EOF
rc=0; FAIL_N=4 "$bin" run two.md --targets all -j 2 --audit-repo audit > r1.out 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat r1.out; fail "two.md, target 4 failing: exit $rc"; }
first=$(rollout_of r1.out)
rm -f two.log
"$bin" run two.md --resume --rollout "$first" -j 2 --audit-repo audit > r2.out 2>&1 || { cat r2.out; fail "--resume --rollout"; }
[ "$(sort two.log | tr '\n' ' ')" = "prep t5 prep t6 work t4 work t5 work t6 " ] || { cat r2.out; fail "the resume ran: $(cat two.log)"; }
grep -q "^\[t4\] Resuming run .* at step 'work'" r2.out || { cat r2.out; fail "t4 did not resume at its failed step"; }
second=$(rollout_of r2.out)
git -C audit log -1 --format=%B runbook-audit > last.msg
grep -q "^Resumes: $first\$" last.msg || { cat last.msg; fail "the resumed rollout does not say which it resumes"; }
rc=0; "$bin" run two.md --resume --rollout "$second" --audit-repo audit > r3.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "every target succeeded: nothing to resume" r3.out || { cat r3.out; fail "a second resume: exit $rc"; }
rc=0; "$bin" run two.md --resume --rollout "$first" --audit-repo audit > r4.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "was resumed already, by rollout $second" r4.out || { cat r4.out; fail "resuming the first again: exit $rc"; }

# 4. Ctrl-C during the fan-out: every running target's handler runs, nothing survives, every record is complete.
rm -f times handlers
SLEEP=31.7 "$bin" run fan.md --targets all -j 3 --audit-repo audit > int.out 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(cat times 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.1; done
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || { cat int.out; fail "Ctrl-C: exit $rc"; }
[ "$(sort handlers | tr '\n' ' ')" = "handler t1 handler t2 handler t3 " ] || { cat int.out; fail "handlers: $(cat handlers)"; }
! pgrep -f "sleep 31.7" > /dev/null || fail "a target's process survived"
id=$(rollout_of int.out)
git -C audit log --format='%(trailers:key=Rollout,valueonly,separator=)|%(trailers:key=Result,valueonly,separator=)' \
  runbook-audit > results
[ "$(grep -c "^$id|interrupted\$" results)" = 4 ] || { cat results; fail "not 3 interrupted runs and the rollout recorded"; }
[ -z "$(ls "$dir/audit/.git/runbook/journal" 2>/dev/null)" ] || fail "a journal was left uncommitted"

# 4b. kill -9 of the rollout alone, mid-fan-out: nothing more starts; the running targets finish their
# runs, each recorded; the rollout's record of its start is there; its resume reads the targets' runs and
# runs the two never started, nothing else. Then kill -9 of the rollout and its targets at once: their
# journals are committed as interrupted runs by the resume, which runs those targets again from their step.
rm -f times handlers
SLEEP=1.7 "$bin" run fan.md --targets t1,t2,t3,t4 -j 2 --audit-repo audit > k9.out 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(cat times 2>/dev/null | grep -c '^start')" -ge 2 ] && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
for _ in $(seq 100); do pgrep -f "sleep 1.7" > /dev/null || break; sleep 0.1; done
sleep 0.5 # their records
[ "$(started)" = "t1 t2 " ] && [ "$(grep -c '^end' times)" = 2 ] || { cat times; fail "after kill -9 of the rollout: $(started)"; }
k9=$(rollout_of k9.out)
messages
[ "$(grep -c "^Rollout: $k9\$" messages)" = 3 ] && grep -q "^Rollout of Fan: running" messages ||
  { cat messages; fail "after kill -9: not two runs and the rollout's start recorded"; }
[ -z "$(ls "$dir/audit/.git/runbook/journal" 2>/dev/null)" ] || fail "a journal was left uncommitted"
rm -f times
SLEEP=0.1 "$bin" run fan.md --resume --rollout "$k9" -j 2 --audit-repo audit > k9r.out 2>&1 || { cat k9r.out; fail "resuming a killed rollout"; }
[ "$(started)" = "t3 t4 " ] && grep -q "never ended (its record is of its start)" k9r.out || { cat k9r.out; fail "the killed rollout's resume ran: $(started)"; }
rc=0; "$bin" run fan.md --resume --rollout "$k9" --audit-repo audit > k9rr.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "was resumed already" k9rr.out || { cat k9rr.out; fail "the killed rollout resumed twice: exit $rc"; }
rm -f times
SLEEP=1.9 "$bin" run fan.md --targets t1,t2,t3 -j 2 --audit-repo audit > k9b.out 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(cat times 2>/dev/null | grep -c '^start')" -ge 2 ] && break; sleep 0.1; done
pkill -9 -f "targets t1,t2,t3 -j 2 --audit-repo"; wait "$pid" 2>/dev/null || true
pkill -9 -f "sleep 1.9" || true
k9b=$(rollout_of k9b.out)
rm -f times
SLEEP=0.1 "$bin" run fan.md --resume --rollout "$k9b" -j 2 --audit-repo audit > k9br.out 2>&1 || { cat k9br.out; fail "resuming a rollout killed with its targets"; }
[ "$(started)" = "t1 t2 t3 " ] && [ "$(grep -c 'committed the interrupted run' k9br.out)" = 2 ] &&
  [ "$(grep -c "Resuming run .* at step 'work'" k9br.out)" = 2 ] || { cat k9br.out; fail "the resume after kill -9 of all: $(started)"; }

# 4c. --from and --only are passed on to every target's run.
rm -f two.log
"$bin" run two.md --targets t1,t2 --from work --no-audit > from.out 2>&1 || { cat from.out; fail "--from with a rollout"; }
[ "$(sort two.log | tr '\n' ' ')" = "work t1 work t2 " ] || fail "--from work ran: $(cat two.log)"
rm -f two.log
"$bin" run two.md --targets t1,t2 --only prep --no-audit > only.out 2>&1 || { cat only.out; fail "--only with a rollout"; }
[ "$(sort two.log | tr '\n' ' ')" = "prep t1 prep t2 " ] || fail "--only prep ran: $(cat two.log)"

# 5. Two rollouts at once over a shared target: it never runs twice at the same time.
rm -f times
SLEEP=2 "$bin" run fan.md --targets t1,t3 -j 2 --audit-repo audit > a.out 2>&1 & a=$!
SLEEP=2 "$bin" run fan.md --targets t3,t4 -j 2 --audit-repo audit > b.out 2>&1 & b=$!
wait "$a" || true
wait "$b" || true
# t3's runs, as start/end pairs, never overlap.
awk '$2 == "t3" { print $3, ($1 == "start" ? 1 : -1) }' times | sort -n |
  awk '{ n += $2; if (n > 1) bad = 1 } END { exit bad }' || { cat times a.out b.out; fail "t3 ran twice at once"; }
if [ "$(grep -c '^start t3' times)" = 1 ]; then
  cat a.out b.out > ab.out
  grep -q "^  t3  *locked " ab.out || { cat ab.out; fail "the rollout that did not run t3 does not say it was locked"; }
fi

# 6. One --target: run here as that target, recorded with Target: and no rollout.
printf '# One\n\n```bash {name=show}\necho "target=$RUNBOOK_TARGET n=$N"\n```\n' > one.md
"$bin" run one.md --inventory targets.yaml --target t5 --audit-repo audit > single.out 2>&1 || { cat single.out; fail "--target t5"; }
grep -q "target=t5 n=5" single.out || { cat single.out; fail "the target's variables were not set"; }
! grep -q "^Rollout" single.out || fail "one --target made a rollout"
[ "$(git -C audit log -1 --format=%B runbook-audit | sed -n 's/^Target: //p')" = t5 ] || fail "no Target: trailer"
# --set wins over the target's variables.
"$bin" run one.md --inventory targets.yaml --target t5 --set N=9 --no-audit > set.out 2>&1
grep -q "n=9" set.out || { cat set.out; fail "--set did not win"; }

# 7. --matrix: every combination, named by its values.
"$bin" run one.md --matrix REGION=eu,us --matrix TIER=a,b -j 4 --no-audit > matrix.out 2>&1 || { cat matrix.out; fail "--matrix"; }
for t in eu-a eu-b us-a us-b; do grep -q "^\[$t\] target=$t " matrix.out || { cat matrix.out; fail "no target $t"; }; done

# 7a. On a terminal: a live line per running target, redrawn in place; a line each as it ends; its stderr stays.
if command -v script > /dev/null; then
  rm -f times
  FAIL_N=2 TERM=xterm script -qfec "'$bin' run fan.md --targets t1,t2,t3 -j 3 --keep-going --no-audit" /dev/null \
    > live.txt 2>&1 || true
  tr -d '\r' < live.txt > live.clean
  grep -q $'\033\\[[0-9]*F\033\\[J' live.clean || { cat -v live.clean; fail "no live lines redrawn on a terminal"; }
  grep -q '^  \[t1\] [0-9.]*s  ' live.clean || { cat -v live.clean; fail "no live line for t1"; }
  grep -q '\[t1\] succeeded in ' live.clean && grep -q '\[t2\] failed at work in ' live.clean ||
    { cat -v live.clean; fail "no line saying how each target ended"; }
  grep -q '\[t2\] .*failed with exit code 3' live.clean || { cat -v live.clean; fail "a target's stderr did not stay"; }
  ! grep -q '^\[t1\] \[1/1\]' live.clean || { cat -v live.clean; fail "live, a target's stdout was printed line by line"; }
fi

# 7b. --report json: stdout is the summary alone, JSON; the targets' lines go to stderr.
rm -f times
FAIL_N=2 "$bin" run fan.md --targets t1,t2,t3 -j 3 --keep-going --report json --no-audit > summary.json 2> summary.err || true
jq -e '.targets | map(.name + "=" + .status) == ["t1=succeeded", "t2=failed", "t3=succeeded"]' summary.json > /dev/null &&
  jq -e '.exit_code == 1 and .result == "failed" and .jobs == 3' summary.json > /dev/null ||
  { cat summary.json summary.err; fail "--report json"; }
grep -q '^\[t2\] failing on purpose' summary.err || { cat summary.err; fail "--report json: the targets' lines are not on stderr"; }
# The events of a target's run carry it.
"$bin" run one.md --inventory targets.yaml --target t3 --no-audit --events ev.jsonl > /dev/null 2>&1 || fail "--target --events"
[ "$(jq -r .target ev.jsonl | sort -u)" = t3 ] || { cat ev.jsonl; fail "not every event carries the target"; }
# A rollout's --events FILE: one stream of every target's events (emptied first), whole lines, each with its
# target and the rollout; --events - (stdout carries the targets' lines) is refused.
echo stale > rev.jsonl
SLEEP=0.2 "$bin" run fan.md --targets all -j 3 --no-audit --events rev.jsonl --events-output > rev.out 2>&1 ||
  { cat rev.out; fail "a rollout with --events"; }
jq -c . rev.jsonl > /dev/null || fail "the rollout's events are not whole JSON lines"
[ "$(jq -r 'select(.event == "run_start") | .target' rev.jsonl | sort | tr '\n' ' ')" = "t1 t2 t3 t4 t5 t6 " ] ||
  fail "not one run_start a target: $(jq -r 'select(.event == "run_start") | .target' rev.jsonl | tr '\n' ' ')"
[ "$(jq -r '.rollout' rev.jsonl | sort -u)" = "$(rollout_of rev.out)" ] || fail "not every event carries the rollout"
! grep -q stale rev.jsonl || fail "the file was not emptied first"
rc=0; "$bin" run fan.md --targets t1,t2 --no-audit --events - > revd.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'does not take --step, --events -' revd.out || { cat revd.out; fail "--events - with a rollout: exit $rc"; }

# 8. plan lists the targets in dispatch order, the canary and -j.
"$bin" plan fan.md --targets all -j 2 --canary 1 > plan.out
grep -q "^Targets: 6 from .*targets.yaml (inventory $(git hash-object targets.yaml)), 2 at a time (-j 2); canary" plan.out &&
  grep -q "^  1\. t1 (canary)  N=1$" plan.out && grep -q "^  6\. t6  N=6$" plan.out || { cat plan.out; fail "plan --targets"; }
"$bin" plan fan.md --target vault --json > plan.json
grep -q '"db": "host=/nonexistent dbname=app password=\*\*\*' plan.json || { cat plan.json; fail "plan --json does not hide the db's password"; }

# 8b. --ephemeral-db: one throwaway server, a database a target; each target's SQL steps and psql reach its own.
if [ -n "${RUNBOOK_PG_BINDIR:-}" ] || command -v pg_config > /dev/null || ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  cat > db.md <<'EOF'
# Per target

```sql {name=mine}
CREATE TABLE mine (t text);
INSERT INTO mine VALUES (current_database());
SELECT pg_sleep(0.3);
```

```bash {name=check}
got=$(psql -XAtc "select string_agg(t, ',') from mine")
echo "db=$PGDATABASE got=$got"
[ "$got" = "$RUNBOOK_TARGET" ]
```
EOF
  "$bin" run db.md --targets all -j 3 --ephemeral-db --no-audit > db.out 2>&1 || { cat db.out; fail "--ephemeral-db rollout"; }
  for t in t1 t2 t3 t4 t5 t6; do grep -q "^\[$t\] db=$t got=$t\$" db.out || { cat db.out; fail "$t did not have its own database"; }; done
  [ "$(grep -c 'throwaway PostgreSQL ready' db.out)" = 1 ] || { cat db.out; fail "not one server for the rollout"; }
  [ -z "$(ls "$TMPDIR" | grep runbook-pg-)" ] || fail "the rollout's server was left"
  # Ctrl-C while every target waits in a statement: no statement survives, no transaction stays open.
  printf '# Long\n\n```sql {name=long}\nSELECT pg_sleep(31.3);\n```\n' > long.md
  "$bin" run long.md --targets t1,t2,t3 -j 3 --ephemeral-db --keep-db --no-audit > long.out 2>&1 &
  lpid=$!
  for _ in $(seq 150); do [ "$(grep -c '\] \[1/1\] Long' long.out)" = 3 ] && break; sleep 0.1; done
  sleep 0.5
  kill -INT "$lpid"
  rc=0; wait "$lpid" || rc=$?
  . "$here/lib/kept.sh"
  kept_server long.out || { cat long.out; fail "the kept server of the interrupted rollout"; }
  left=$(psql -XAtq "$url" -c "select count(*) from pg_stat_activity where pid <> pg_backend_pid() and
    (query like '%pg_sleep(31.3)%' or state like 'idle in transaction%')")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -rf "$srv"
  [ "$rc" = 130 ] || { cat long.out; fail "Ctrl-C of an SQL rollout: exit $rc"; }
  [ "$left" = 0 ] || { cat long.out; fail "$left statements survived Ctrl-C"; }
fi

# 8c. What a target's run does not get: a terminal (an input without a value fails at once, no hang), the
# rollout's status pipe or variables (in its steps), a secret --set on the command line (ps shows none).
printf -- '---\ninputs:\n  TICKET: {}\n---\n# Asks\n\n```bash\necho "$TICKET"\n```\n' > asks.md
if command -v script > /dev/null; then
  rc=0; timeout 60 script -qfec "'$bin' run asks.md --targets t1,t2 -j 1 --no-audit" /dev/null > asks.out 2>&1 || rc=$?
  [ "$rc" != 124 ] || { cat asks.out; fail "a target's input hung the rollout"; }
  grep -q "failed" asks.out || { cat asks.out; fail "a target's input without a value did not fail"; }
fi
cat > env.md <<'EOF'
# Env

```bash {name=look}
[ ! -e /proc/self/fd/3 ] || { echo "fd 3 inherited"; exit 1; }
[ -z "${RUNBOOK_ROLLOUT_FD:-}${RUNBOOK_ROLLOUT_DB:-}" ] || { echo "rollout variables inherited"; exit 1; }
[ "$DB_PASSWORD" = hunter2-secret ] || { echo "the --set value did not arrive"; exit 1; }
sleep 1
```
EOF
"$bin" run env.md --targets t1,t2 -j 2 --set DB_PASSWORD=hunter2-secret --no-audit > env.out 2>&1 &
epid=$!
sleep 0.5
cmdlines=$(cat /proc/"$epid"/cmdline /proc/"$epid"/task/*/children 2>/dev/null | tr '\0' ' ')
for c in $(cat /proc/"$epid"/task/*/children 2>/dev/null); do cmdlines="$cmdlines $(tr '\0' ' ' < /proc/"$c"/cmdline 2>/dev/null)"; done
rc=0; wait "$epid" || rc=$?
[ "$rc" = 0 ] || { cat env.out; fail "what a target's steps inherit"; }
! grep -q hunter2 <<< "$cmdlines" || fail "a secret --set was on a command line: $cmdlines"
# A canary killed by a signal the rollout did not send is not a success: nothing else starts.
printf '# Killed\n\n```bash\necho "start $RUNBOOK_TARGET" >> %s/killed\nkill -KILL $PPID\n```\n' "$dir" > killed.md
rc=0; "$bin" run killed.md --targets all -j 2 --canary 1 --yes --no-audit > killed.out 2>&1 || rc=$?
[ "$rc" = 1 ] && [ "$(cat killed)" = "start t1" ] || { cat killed.out; fail "a killed canary: exit $rc, $(cat killed)"; }
# --target with --ephemeral-db: the throwaway server, not the target's own database.
if [ -n "${RUNBOOK_PG_BINDIR:-}" ] || command -v pg_config > /dev/null || ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  printf '# Where\n\n```sql {name=where capture=DBNAME}\nSELECT current_database();\n```\n' > where.md
  # (its db's password is not needed there: VAULT_PASS unset)
  env -u VAULT_PASS "$bin" run where.md --target vault --ephemeral-db --no-audit > where.out 2>&1 ||
    { cat where.out; fail "--target vault --ephemeral-db did not run on the throwaway server"; }
fi
# A resumed rollout's targets read the inventory the rollout read (not targets.yaml here).
printf 'targets:\n  t1: {N: "1"}\n  extra: {N: "7"}\n' > other.yaml
printf '# Other\n\n```bash {name=o}\n[ "$RUNBOOK_TARGET" != extra ] || [ -e %s/extra-ok ]\n```\n' "$dir" > other.md
rc=0; "$bin" run other.md --inventory other.yaml --targets extra,t1 --audit-repo audit > o1.out 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat o1.out; fail "other.yaml: exit $rc"; }
touch extra-ok
"$bin" run other.md --resume --rollout "$(rollout_of o1.out)" --audit-repo audit > o2.out 2>&1 ||
  { cat o2.out; fail "a rollout of another inventory did not resume"; }

# A matrix rollout resumes from its record too (its axes recorded).
printf '# Mx\n\n```bash {name=m}\n[ "$R" != b ] || [ -e %s/b-ok ]\n```\n' "$dir" > mx.md
rc=0; "$bin" run mx.md --matrix R=a,b --keep-going --audit-repo audit > m1.out 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat m1.out; fail "matrix with b failing: exit $rc"; }
touch b-ok
"$bin" run mx.md --resume --rollout "$(rollout_of m1.out)" --audit-repo audit > m2.out 2>&1 || { cat m2.out; fail "a matrix rollout did not resume"; }
grep -q "^  b  *succeeded " m2.out && ! grep -q "^  a  " m2.out || { cat m2.out; fail "the matrix resume ran: $(grep '^  [ab] ' m2.out)"; }

# 9. Refused before anything runs: a reference not set, an unknown target, a literal password.
rm -f times
rc=0; env -u VAULT_PASS "$bin" run fan.md --target vault --audit-repo audit > unset.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "target 'vault' refers to VAULT_PASS, not set in the environment" unset.out ||
  { cat unset.out; fail "an unset reference: exit $rc"; }
rc=0; "$bin" run fan.md --targets t1,nope > unknown.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "no such target or group in .*targets.yaml: 'nope'" unknown.out || { cat unknown.out; fail "unknown target: exit $rc"; }
[ ! -e times ] || fail "something ran"
mkdir leak && cp fan.md leak/ && printf 'targets:\n  p: {db: "host=h password=hunter2"}\n' > leak/targets.yaml
rc=0; "$bin" check leak/fan.md > check.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "targets.yaml:2:11: error: target 'p': the db holds a password" check.out && ! grep -q hunter2 check.out ||
  { cat check.out; fail "check did not refuse a literal password: exit $rc"; }

# 10. confirm=each: asked of the rollout's operator for each target (a task list once for all); refused on one
# target, that target fails at the step; --yes answers it for each, recorded so; no terminal, no --yes: nothing
# runs (exit 3); with --only the step is still asked; Ctrl-C at the question stops the rollout.
cat > each.md <<EOF
# Each

- [ ] the change window is open

\`\`\`bash {name=prep}
echo "prep \$RUNBOOK_TARGET" >> $dir/each.log
\`\`\`

\`\`\`bash {name=change confirm=each}
echo "change \$RUNBOOK_TARGET" >> $dir/each.log
\`\`\`
EOF
drive() { python3 "$here/lib/ptydrive.py" '[y/N]' "$1" each.out -- "$bin" run each.md "${@:2}"; }
rm -f each.log; git init -q each-audit
rc=0; drive y,y,n,y --targets t1,t2,t3 -j 2 --keep-going --audit-repo each-audit || rc=$?
[ "$rc" = 1 ] || { cat each.out; fail "confirm=each refused on one target: exit $rc"; }
[ "$(grep -c 'approve them once for all 3 targets' each.out)" = 1 ] || { cat each.out; fail "the task list was not asked once"; }
[ "$(grep -c "target 't[123]': run step 'change' (each.md:9)?" each.out)" = 3 ] || { cat each.out; fail "change not asked for each target"; }
[ "$(grep -c '^prep ' each.log)" = 3 ] && [ "$(grep -c '^change ' each.log)" = 2 ] || { cat each.log; fail "what ran: $(tr '\n' ' ' < each.log)"; }
refused=$(grep "run step 'change'.* n" each.out | sed "s/.*target '\([^']*\)'.*/\1/" | tr -d '\r')
! grep -q "^change $refused\$" each.log || fail "the refused target $refused changed"
git -C each-audit grep -l "refused at the rollout's terminal" runbook-audit -- 'runs/*record.md' > each.rec || true
[ "$(grep -c . each.rec)" = 1 ] || fail "records of the refusal: $(cat each.rec)"
[ "$(git -C each-audit grep -l "at the rollout's terminal" runbook-audit -- 'runs/*record.md' | grep -c .)" = 3 ] ||
  fail "not every target's record says who answered"
# --yes answers for each target, recorded so; --only asks it too.
rm -f each.log
"$bin" run each.md --targets t1,t2 --yes --no-audit > each-yes.out 2>&1 < /dev/null || { cat each-yes.out; fail "confirm=each with --yes"; }
[ "$(grep -c "confirmed for target 't[12]' (--yes (the rollout's)): run step 'change'" each-yes.out)" = 2 ] ||
  { cat each-yes.out; fail "--yes did not confirm for each target"; }
rm -f each.log
rc=0; "$bin" run each.md --targets t1,t2 --no-audit > each-no.out 2>&1 < /dev/null || rc=$?
[ "$rc" = 3 ] && grep -q "step 'change' (each.md:9) asks for each target (confirm=each) and there is no terminal" each-no.out &&
  [ ! -e each.log ] || { cat each-no.out; fail "confirm=each without a terminal: exit $rc"; }
rc=0; drive y,y,n --targets t1,t2 --only change --no-audit || rc=$?
[ "$rc" = 1 ] && [ "$(tr -d '\r' < each.log)" = "change t1" ] || { cat each.out; fail "--only change: exit $rc, ran $(cat each.log)"; }
# Ctrl-C at a target's question: nothing more is changed, the rollout is interrupted (130).
rm -f each.log
rc=0; drive y,^C --targets t1,t2,t3 --no-audit || rc=$?
[ "$rc" = 130 ] && ! grep -q '^change' each.log || { cat each.out; fail "Ctrl-C at the question: exit $rc, $(cat each.log)"; }
pgrep -f "$dir/each" > /dev/null && fail "a target's run survived"

echo "rollout ok"
