#!/usr/bin/env bash
# Per-step undo on a real PostgreSQL server the test owns. A runbook of
# five changes (SQL and shell), each with its undo, fails in every way a run
# can fail: the undos of exactly the steps that completed run, newest first,
# each seeing the variables as they were when its step completed; the
# failing step's own undo only with undo_on_failure; never a step after the
# failure. A failing undo does not stop the others and ends the run with
# exit 6. kill -9 during an undo, then --resume: the stack goes on, no undo
# runs twice, no forward step runs. --from undoes only what this run did.
# --no-undo skips the stack and says so in the record.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../faults/lib.sh"
fault_setup
cd "$work"
audit=$work/audit
run_pid=
trap 'if [ -n "$run_pid" ]; then kill -9 "$run_pid" 2>/dev/null || true; fi; fault_cleanup' EXIT

q "create table ulog(n serial primary key, step text, val text)" >/dev/null
cat > five.md <<'MD'
---
on_failure: Notify
---
# Five

```lua abort {name=stop-file every=100ms}
return file.exists("STOP"), "the STOP file is there"
```

## Change

```sql {name=s1 capture=OLD_VERSION}
create table t1(x int);
select 'v1';
```

```sql undo
insert into ulog(step, val) values ('s1', :'OLD_VERSION');
drop table t1;
```

```bash {name=s2}
[ "$MODE" = sigint ] && { echo "s2 waits"; sleep 30; }
touch s2.done
```

```bash undo
psql "$U" -qXc "insert into ulog(step) values ('s2')"
[ "$MODE" = killundo ] && { echo "undo of s2 waits"; sleep 30; }
rm -f s2.done
[ "$MODE" != badundo ]
```

```bash {name=s3 capture=OLD_VERSION}
[ "$MODE" = abort ] && { touch STOP; sleep 10; }
echo v3
```

```bash undo
psql "$U" -qXc "insert into ulog(step, val) values ('s3', '$OLD_VERSION')"
```

```lua gate {name=g4}
return vars.MODE ~= "gate", "the gate is closed"
```

```bash {name=s4 timeout=2s}
case "$MODE" in fail4) exit 1 ;; timeout) sleep 10 ;; esac
echo s4
```

```bash undo
psql "$U" -qXc "insert into ulog(step) values ('s4')"
```

```bash {name=s5}
touch s5.done
```

```bash undo
psql "$U" -qXc "insert into ulog(step) values ('s5')"
```

## Notify

```bash {name=notify}
echo "UNDONE_STEPS=$UNDONE_STEPS"
echo "FAILURE_REASON=$FAILURE_REASON"
```
MD

# 0. The plan shows each undo beneath its step, and the order a failure would run.
"$bin" plan five.md --fail-at s4 > out 2> err || fail "plan --fail-at"
grep -q "^      undo: s1.undo  sql  five.md:17  (runs only to undo 's1')" out || fail "plan: the undo of s1 is not shown"
grep -qx "If 's4' fails, the undo runs newest first: s3.undo, s2.undo, s1.undo" out || fail "plan --fail-at s4"
"$bin" plan five.md --fail-at s4 --from s2 > out 2> err || fail "plan --fail-at --from"
grep -qx "If 's4' fails, the undo runs newest first: s3.undo, s2.undo" out || fail "plan --fail-at s4 --from s2"
"$bin" plan five.md --json > out 2> err || fail "plan --json"
grep -q '"undo": "s1.undo"' out && grep -q '"undoes": "s1"' out && grep -q '"role": "undo"' out ||
  fail "plan --json: undo, undoes or role undo missing"

order() { q "select coalesce(string_agg(step, ',' order by n), '') from ulog"; }
val() { q "select val from ulog where step = '$1'"; }
reset() { q "set client_min_messages = warning; truncate ulog; drop table if exists t1" >/dev/null; rm -f STOP s2.done s5.done; }
run() { # run EXPECTED-EXIT MODE ARGS...
  local want=$1 mode=$2 rc=0; shift 2
  "$bin" run five.md --db "$url" --audit-repo "$audit" --set U="$url" --set MODE="$mode" "$@" > out 2> err || rc=$?
  [ "$rc" = "$want" ] || fail "$mode $*: expected exit $want, got $rc"
}
signal_at() { # signal_at SIGNAL TEXT FILE MODE: run FILE in the background, send SIGNAL once TEXT is out; rc in $rc
  local sig=$1 text=$2 file=$3 mode=$4
  : > out # emptied here, not in the background: the wait below must not read the last case's output
  "$bin" run "$file" --db "$url" --audit-repo "$audit" --set U="$url" --set MODE="$mode" > out 2> err &
  run_pid=$!
  for _ in $(seq 150); do grep -q "$text" out 2>/dev/null && break; sleep 0.1; done
  grep -q "$text" out || fail "$mode: '$text' never came"
  kill "-$sig" "$run_pid"
  rc=0; wait "$run_pid" 2>/dev/null || rc=$?
  run_pid=
}
last_record() {
  local id
  id=$(git -C "$audit" log -1 --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | sed '/^$/d')
  git -C "$audit" show "refs/heads/runbook-audit:runs/${id:0:4}/${id:4:2}/${id:6:2}/${id:9}/record.json"
}

# 1. Each way of failing: the undos of the completed steps, newest first.
for c in "fail4 1 s3,s2,s1 s3 s2 s1" "gate 3 s3,s2,s1 s3 s2 s1" "timeout 1 s3,s2,s1 s3 s2 s1" \
         "abort 4 s2,s1 s2 s1"; do
  set -- $c
  mode=$1 code=$2 want=$3; shift 3
  reset
  run "$code" "$mode"
  [ "$(order)" = "$want" ] || fail "$mode: undo order '$(order)', expected '$want'"
  grep -qx "UNDONE_STEPS=$*" out || fail "$mode: UNDONE_STEPS not '$*'"
  [ -e s5.done ] && fail "$mode: step 5 ran"
  [ -e s2.done ] && fail "$mode: the undo of s2 did not run"
  [ "$(val s1)" = v1 ] || fail "$mode: the undo of s1 saw OLD_VERSION='$(val s1)', not its own step's v1"
  if [ "$mode" != abort ]; then
    [ "$(val s3)" = v3 ] || fail "$mode: the undo of s3 saw OLD_VERSION='$(val s3)'"
  fi
  [ "$(q "select count(*) from pg_tables where tablename = 't1'")" = 0 ] || fail "$mode: t1 is still there"
  last_record | grep -q '"undoes": "s1"' || fail "$mode: the record does not show the undo of s1"
  [ -n "${RB_UNDO_SHOW:-}" ] && cat out
done

# 1b. The same failures with --from s2 (s1 was done by someone else: never
#     undone here), and in a run resumed after a first failure (--no-undo):
#     the chain's completed steps are undone, each with its recorded values.
for c in "fail4 1 s3,s2 s3,s2,s1" "gate 3 s3,s2 s3,s2,s1" "timeout 1 s3,s2 s3,s2,s1" "abort 4 s2 s2,s1"; do
  set -- $c
  mode=$1 code=$2 from_want=$3 resumed_want=$4
  reset
  q "create table t1(x int)" > /dev/null
  run "$code" "$mode" --from s2
  [ "$(order)" = "$from_want" ] || fail "$mode --from s2: undo order '$(order)', expected '$from_want'"
  q "drop table t1" > /dev/null
  reset
  run "$code" "$mode" --no-undo
  [ "$(order)" = "" ] || fail "$mode --no-undo: undos ran"
  rm -f STOP
  # Its handler ran: a resume is refused (the handler may have undone work) until forced.
  rc=0; "$bin" run five.md --db "$url" --audit-repo "$audit" --set U="$url" --resume > out 2> err || rc=$?
  [ "$rc" = 2 ] || fail "$mode, resumed after the handler ran: exit $rc, expected 2"
  grep -q "the failure handler ran in run .* (step 'notify')" err || fail "$mode: no refusal naming the handler"
  rc=0; "$bin" run five.md --db "$url" --audit-repo "$audit" --set U="$url" --resume --force > out 2> err || rc=$?
  [ "$rc" = "$code" ] || fail "$mode, resumed: exit $rc, expected $code"
  [ "$(order)" = "$resumed_want" ] || fail "$mode, resumed: undo order '$(order)', expected '$resumed_want'"
  [ "$(val s1)" = v1 ] || fail "$mode, resumed: s1's undo saw '$(val s1)'"
done

# 2. undo_on_failure: the failing step's own undo runs first.
sed 's/{name=s4 timeout=2s}/{name=s4 timeout=2s undo_on_failure=true}/' five.md > five-uof.md
reset
rc=0; "$bin" run five-uof.md --db "$url" --audit-repo "$audit" --set U="$url" --set MODE=fail4 > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "undo_on_failure: exit $rc"
[ "$(order)" = s4,s3,s2,s1 ] || fail "undo_on_failure: order '$(order)'"

# 3. Ctrl-C during step 2: only step 1 is undone.
reset
signal_at INT "s2 waits" five.md sigint
[ "$rc" = 130 ] || fail "sigint: exit $rc"
[ "$(order)" = s1 ] || fail "sigint: order '$(order)'"

# 4. A failing undo: the later undos still run, exit 6, the record names it.
# badundo passes the gate of five.md: five-bad.md closes it for badundo and killundo.
reset
sed 's/return vars.MODE ~= "gate"/return vars.MODE ~= "gate" and vars.MODE ~= "badundo" and vars.MODE ~= "killundo"/' five.md > five-bad.md
rc=0; "$bin" run five-bad.md --db "$url" --audit-repo "$audit" --set U="$url" --set MODE=badundo > out 2> err || rc=$?
[ "$rc" = 6 ] || fail "a failing undo: expected exit 6, got $rc"
[ "$(order)" = s3,s2,s1 ] || fail "a failing undo: the undo after it did not run ('$(order)')"
grep -qx "FAILURE_REASON=gate closed: the gate is closed" out || fail "a failing undo replaced the handler's FAILURE_REASON"
last_record | python3 -c '
import json, sys
r = json.load(sys.stdin)
bad = [s for s in r["steps"] if s.get("undoes") == "s2"]
assert bad and bad[0]["status"] == "failed", bad
ok = [s for s in r["steps"] if s.get("undoes") == "s1"]
assert ok and ok[0]["status"] == "ok", ok' || fail "the record does not say the undo of s2 failed and that of s1 ran"
grep -q "undo of 's2' failed" err || grep -q "undo of 's2' failed" out || fail "a failing undo is not said"
last_record | grep -q '"result": "undo incomplete"' || fail "the record does not say the undo was incomplete"

# 5. kill -9 during the undo of s2, then --resume: the undo of s1 runs,
#    no undo runs twice, no forward step runs.
reset
signal_at KILL "undo of s2 waits" five-bad.md killundo
[ "$(order)" = s3,s2 ] || fail "killundo: before the resume, order '$(order)'"
rc=0; "$bin" run five-bad.md --db "$url" --audit-repo "$audit" --set U="$url" --resume > out 2> err || rc=$?
[ "$(order)" = s3,s2,s1 ] || fail "killundo + --resume: order '$(order)' (rc $rc)"
[ -e s5.done ] && fail "killundo + --resume: a forward step ran"
grep -q "undo of s2 .*interrupted" out || fail "killundo + --resume: the interrupted undo of s2 is not said"
[ -n "${RB_UNDO_SHOW:-}" ] && cat out
[ "$rc" = 3 ] || fail "killundo + --resume: expected the chain's exit 3 (the gate), got $rc"
# A second --resume: the chain was undone, nothing to resume (exit 2).
rc=0; "$bin" run five-bad.md --db "$url" --audit-repo "$audit" --set U="$url" --resume > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "a second --resume: expected exit 2, got $rc"
grep -q "undone" err || fail "a second --resume does not say the chain was undone"
[ "$(order)" = s3,s2,s1 ] || fail "a second --resume ran an undo again: '$(order)'"

# 5b. Ctrl-C during the undo of s2 stops the unwinding (exit 130, recorded as
#     interrupted); --resume finishes it with the undo of s1.
reset
signal_at INT "undo of s2 waits" five-bad.md killundo
[ "$rc" = 130 ] || fail "Ctrl-C in the undo: exit $rc"
[ "$(order)" = s3,s2 ] || fail "Ctrl-C in the undo: order '$(order)'"
grep -q "The undo was stopped by a signal: 1 undo not run" out || fail "Ctrl-C in the undo: not said"
last_record | grep -q '"undo": "interrupted"' || fail "Ctrl-C in the undo: not recorded as interrupted"
rc=0; "$bin" run five-bad.md --db "$url" --audit-repo "$audit" --set U="$url" --resume > out 2> err || rc=$?
[ "$(order)" = s3,s2,s1 ] || fail "Ctrl-C in the undo + --resume: order '$(order)' (rc $rc)"
[ "$(val s1)" = v1 ] || fail "Ctrl-C in the undo + --resume: s1's undo saw '$(val s1)'"

# 5c. A resumed run that fails undoes what its chain did: the first run
#     fails at s4 with --no-undo, its resume fails there again and unwinds
#     s3, s2, s1, each with its own recorded values.
reset
run 1 fail4 --no-undo
[ "$(order)" = "" ] || fail "--no-undo then resume: undos ran in the first run"
rc=0; "$bin" run five.md --db "$url" --audit-repo "$audit" --set U="$url" --resume --force > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "resumed run failing again: exit $rc"
[ "$(order)" = s3,s2,s1 ] || fail "resumed run: the chain's steps were not undone: '$(order)'"
[ "$(val s1)" = v1 ] && [ "$(val s3)" = v3 ] || fail "resumed run: the undos did not see their steps' values"

# 6. --from s2: only what this run did is undone.
reset
q "create table t1(x int)" >/dev/null
run 1 fail4 --from s2
[ "$(order)" = s3,s2 ] || fail "--from s2: order '$(order)'"
q "drop table t1" >/dev/null

# 7. --no-undo: nothing is undone, the record says so.
reset
run 1 fail4 --no-undo
[ "$(order)" = "" ] || fail "--no-undo: undos ran: '$(order)'"
last_record | grep -q 'undo skipped (--no-undo)' || fail "--no-undo is not recorded"
q "drop table if exists t1" >/dev/null

# 7b. --no-undo on a terminal is asked: refused, nothing runs (exit 3).
reset
rc=0; echo n | script -qec "'$bin' run five.md --db '$url' --audit-repo '$audit' --set U='$url' --set MODE=fail4 --no-undo" \
  /dev/null > out 2>&1 || rc=$?
grep -q "run without undo (--no-undo)" out || fail "--no-undo on a terminal is not asked"
grep -q "running without undo was not approved" out || fail "--no-undo refused on a terminal is not said"
[ ! -e s2.done ] || fail "--no-undo refused: a step ran"

# 7c. Secrets stay redacted in an undo's output.
cat > secret.md <<'MD'
# Secret undo

```bash {name=get-token capture=API_TOKEN}
echo tok-3141592653
```

```bash undo
echo "revoking $API_TOKEN"
```

```bash {name=boom}
exit 1
```
MD
rc=0; "$bin" run secret.md --no-audit > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "secret undo: exit $rc"
grep -qx 'revoking \*\*\*' out || fail "the undo's output does not hide the secret"
! grep -q 3141592653 out err || fail "the secret reached the terminal"

# 8. A success undoes nothing.
reset
run 0 none
[ "$(order)" = "" ] || fail "success: undos ran"

# 9. runbook revert of that completed run: every undo, newest first, from
#    the record; the revert is recorded (Reverts:); a second is refused; so
#    is a revert after the runbook changed, unless --allow-changed.
id=$(git -C "$audit" log -1 --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | sed '/^$/d')
"$bin" plan --revert "$id" --audit-repo "$audit" > out 2> err || fail "plan --revert"
grep -q "s5.undo  (undoes s5" out || fail "plan --revert does not list the undo of s5"
[ "$(order)" = "" ] || fail "plan --revert ran something"
rc=0; "$bin" revert "$id" --audit-repo "$audit" --db "$url" > out 2> err || rc=$?
[ -n "${RB_UNDO_SHOW:-}" ] && cat out
[ "$rc" = 0 ] || fail "revert: exit $rc"
[ "$(order)" = s5,s4,s3,s2,s1 ] || fail "revert: order '$(order)'"
[ "$(val s1)" = v1 ] && [ "$(val s3)" = v3 ] || fail "revert: the undos did not see their steps' values"
[ "$(q "select count(*) from pg_tables where tablename = 't1'")" = 0 ] || fail "revert: t1 is still there"
trailer=$(git -C "$audit" log -1 --format='%(trailers:key=Reverts,valueonly)' refs/heads/runbook-audit | sed '/^$/d')
[ "$trailer" = "$id" ] || fail "revert: no Reverts: trailer naming $id ('$trailer')"
"$bin" show "$id" --audit-repo "$audit" > out 2> err || fail "show of the reverted run"
grep -q "^Reverted by run " out || fail "show: the reverted run does not name its revert"
rc=0; "$bin" revert "$id" --audit-repo "$audit" --db "$url" > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "a second revert: expected exit 2, got $rc"
grep -q "reverted already" err || fail "a second revert does not say why"
rc=0; "$bin" revert "$id" --audit-repo "$audit" --ephemeral-db > out 2> err || rc=$?
[ "$rc" = 2 ] && grep -q "ephemeral-db is refused" err || fail "revert --ephemeral-db: exit $rc"
reset
run 0 none
id=$(git -C "$audit" log -1 --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | sed '/^$/d')
printf '\nEdited.\n' >> five.md
rc=0; "$bin" revert "$id" --audit-repo "$audit" --db "$url" > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "revert of a changed runbook: expected exit 2, got $rc"
grep -q "changed since run" err || fail "revert of a changed runbook does not say why"
[ "$(order)" = "" ] || fail "a refused revert ran an undo"
rc=0; "$bin" revert "$id" --audit-repo "$audit" --db "$url" --allow-changed > out 2> err || rc=$?
[ "$rc" = 0 ] && [ "$(order)" = s5,s4,s3,s2,s1 ] || fail "revert --allow-changed: exit $rc, order '$(order)'"
[ -n "${RB_UNDO_SHOW:-}" ] && cat out
echo "undo: ok"
