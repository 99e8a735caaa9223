#!/usr/bin/env bash
# Recovery knows about survivors. A process a step started that left the
# step's process group (setsid) outlives a kill -9 of runbook, although the
# watchdog stops the step's group: it is found by the RUNBOOK_RUN_ID in its
# environment. The next invocation's recovery names it in the recovered
# record, plan --resume shows it, --resume refuses with exit 5 naming it
# (--force goes past it), and once it is killed --resume proceeds. Without
# the watchdog the step's whole group survives, and is named by its id.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
cleanup() {
  # Only the processes this test started, by their ids.
  for f in "$dir"/escaped.pid "$dir"/group.pid; do
    [ -s "$f" ] || continue
    if [ "$f" = "$dir/group.pid" ]; then kill -9 -- "-$(cat "$f")" 2>/dev/null || true
    else kill -9 "$(cat "$f")" 2>/dev/null || true; fi
  done
  rm -rf "$dir"
  return 0
}
trap cleanup EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
rb() { "$bin" "$1" --audit-repo "$audit" "${@:2}"; }
wait_gone() { # wait_gone KILL-TARGET: up to 5 s until kill -0 fails
  for _ in $(seq 50); do kill -0 -- "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

nap=300.$$
cat > escape.md <<MD
# Escape

\`\`\`bash {name=prepare}
echo prepared
\`\`\`

\`\`\`bash {name=escape}
[ -e once ] && { echo "escaped before"; exit 0; }
touch once
echo \$\$ > step.pid
setsid sleep $nap < /dev/null > /dev/null 2>&1 &
echo \$! > escaped.pid
echo started
sleep 30
\`\`\`

\`\`\`bash {name=after}
echo after
\`\`\`
MD

# 1. kill -9 during the step: the watchdog stops its group, the setsid process lives on.
"$bin" run --audit-repo "$audit" escape.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -q '^started$' out && break; sleep 0.05; done
grep -q '^started$' out || fail "the step did not start"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
step_pgid=$(cat step.pid)
escaped=$(cat escaped.pid)
wait_gone "-$step_pgid" || fail "the watchdog did not stop the step's group $step_pgid"
kill -0 "$escaped" 2>/dev/null || fail "the setsid process $escaped did not survive"
grep -qx "RUNBOOK_RUN_ID=.*" <(tr '\0' '\n' < "/proc/$escaped/environ") \
  || fail "the step's environment has no RUNBOOK_RUN_ID (engine.c must export it)"
run1=$(ls "$audit"/runbook/journal/ | sed -n 's/\.log$//p')
[ -n "$run1" ] || fail "no journal left by the killed run"

# 2. The preview touches nothing, shows the survivor and says the run would refuse (exit 5).
rc=0; rb plan --resume escape.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "plan --resume with a survivor: expected 5, got $rc"
grep -qx "  survivor: process $escaped (sleep, step 'escape', in a process group of its own) still running, left by run 1" out \
  || fail "plan --resume does not name the survivor"
grep -q "killed; not committed yet: the next run commits it" out || fail "the preview does not show the killed run as pending"
[ -e "$audit/runbook/journal/$run1.log" ] || fail "the preview committed the killed run"
git -C "$audit" rev-parse -q --verify refs/heads/runbook-audit >/dev/null && fail "the preview committed something"

# 3. --resume: recovery commits the killed run naming the survivor, then refuses with exit 5.
rc=0; rb run --resume escape.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "--resume with a survivor: expected 5, got $rc"
grep -q "runbook: run $run1: survivor: process $escaped (sleep, step 'escape', in a process group of its own) still running" err \
  || fail "recovery did not report the survivor"
grep -q "escape.md: --resume: process $escaped (sleep, step 'escape', in a process group of its own) still running, left by run $run1: stop it (kill $escaped) and resume again, or resume anyway with --force" err \
  || fail "the refusal does not name the survivor and what to do"
tail -1 err | grep -q '^escape.md: --resume: process' || fail "the refusal is not the last line"
grep -q '^started$\|^after$\|^escaped before$' out && fail "a refused resume ran a step"
[ ! -e "$audit/runbook/journal/$run1.log" ] || fail "the killed run was not recovered"
md=$(git -C "$audit" show "refs/heads/runbook-audit:$(git -C "$audit" show --name-only --format= refs/heads/runbook-audit | grep 'record.md$')")
grep -qx "> survivor: process $escaped (sleep, step 'escape', in a process group of its own) still running" <<< "$md" \
  || fail "the recovered record does not name the survivor: $md"
grep -qx -- "- \*\*Process group:\*\* $step_pgid" <<< "$md" || fail "the recovered record lacks the step's process group"
git -C "$audit" log -1 --format=%B refs/heads/runbook-audit | grep -qx "Result: interrupted" || fail "not recorded as interrupted"

# 4. --force goes past it (shown on a dry run: nothing runs), and says so.
rc=0; rb run --dry-run --resume --force escape.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "--dry-run --resume --force: expected 0, got $rc"
grep -q "^  survivor: process $escaped " out || fail "the forced preview does not show the survivor"

# 5. Once it is gone, --resume proceeds from the interrupted step.
kill -9 "$escaped"
wait_gone "$escaped" || fail "the survivor did not die"
rc=0; rb run --resume escape.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "--resume after the survivor was killed: expected 0, got $rc"
grep -q "^Resuming run $run1 at step 'escape'" out || fail "did not resume at the interrupted step"
grep -qx "  survivors: none found" out || fail "a dead survivor is still reported"
grep -qx 'escaped before' out && grep -qx after out || fail "the resumed steps did not run"
grep -qx prepared out && fail "a step done before ran again"
rm -f escaped.pid
echo "an escaped process is found, named, and blocks --resume until it is gone"

# 6. Without the watchdog the step's whole group survives: recovery names the group.
cat > group.md <<MD
# Group

\`\`\`bash {name=linger}
[ -e lingered ] && exit 0
touch lingered
echo \$\$ > group.pid
echo started
sleep $nap
\`\`\`
MD
RUNBOOK_WATCHDOG=0 "$bin" run --audit-repo "$audit" group.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -q '^started$' out && break; sleep 0.05; done
grep -q '^started$' out || fail "the step did not start"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
group=$(cat group.pid)
sleep 0.3
kill -0 -- "-$group" 2>/dev/null || fail "the group did not survive without the watchdog"
rc=0; rb run --resume group.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "--resume with a surviving group: expected 5, got $rc"
grep -q "survivor: process group $group (.*step 'linger') still running" err || fail "recovery did not name the group"
grep -q "stop it (kill -- -$group) and resume again" err || fail "the refusal does not say how to stop the group"
kill -9 -- "-$group"
wait_gone "-$group" || fail "the group did not die"
rm -f group.pid
rc=0; rb run --resume group.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "--resume after the group was stopped: expected 0, got $rc"
echo "a surviving process group is named by its id"
