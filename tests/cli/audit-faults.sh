#!/usr/bin/env bash
# Hostile moments for the audit record:
#  - an audit repository on a nearly full filesystem is refused before step 1
#    (exit 5, naming the path and the free space);
#  - a filesystem that fills up during the run stops the run before the next
#    step once the journal cannot be written (exit 5, naming the journal),
#    and what the journal holds is committed by the next run with a note
#    that it was cut;
#  - a stale lock on the audit ref is refused before step 1, naming the lock
#    file; a fresh one that goes away is waited for;
#  - a kill -9 between the audit commit and the journal's removal does not
#    commit the run twice.
# The filesystem parts need `mount -t tmpfs` (root); they are skipped, with a
# message, where it is not allowed.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
fs=$dir/fs
mounted=
cleanup() {
  [ -n "$mounted" ] && umount "$fs" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "audit-faults: $*"; exit 1; }
run_id_of() { git -C "$1" log -1 --format='%(trailers:key=Run,valueonly)' "$2" | sed '/^$/d'; }

# --- a nearly full filesystem, and one that fills up during the run ------------
mkdir "$fs"
if mount -t tmpfs -o size=4M tmpfs "$fs" 2>/dev/null; then
  mounted=1
  git init -q --bare "$fs/audit"
  cat > "$dir/marker.md" <<MD
# Marker

\`\`\`bash {name=mark}
touch "$dir/marker1"
\`\`\`
MD
  avail=$(df --output=avail -k "$fs" | tail -1)
  dd if=/dev/zero of="$fs/fill" bs=1k count=$((avail - 512)) 2>/dev/null
  rc=0; "$bin" run --audit-repo "$fs/audit" "$dir/marker.md" > "$dir/out" 2>&1 || rc=$?
  [ "$rc" = 5 ] || { cat "$dir/out"; fail "nearly full: expected exit 5, got $rc"; }
  [ ! -e "$dir/marker1" ] || fail "nearly full: step 1 ran"
  grep -q "$fs/audit.* [0-9]* KiB free, less than the 1024 KiB needed" "$dir/out" ||
    { cat "$dir/out"; fail "nearly full: the message does not name the path and the free space"; }
  rm -f "$fs/fill"

  # The first step fills the filesystem, then prints more than the journal's
  # reserve: the journal cannot take that step's end, so step two must not run.
  cat > "$dir/fill.md" <<MD
# Fill

\`\`\`bash {name=one}
dd if=/dev/zero of="$fs/big" bs=64k 2>/dev/null || true
head -c 9000 /dev/zero | tr '\\0' x; echo
\`\`\`

\`\`\`bash {name=two}
touch "$dir/marker2"
\`\`\`
MD
  rc=0; "$bin" run --audit-repo "$fs/audit" "$dir/fill.md" > "$dir/out" 2>&1 || rc=$?
  [ "$rc" = 5 ] || { cat "$dir/out"; fail "full during the run: expected exit 5, got $rc"; }
  # Needs the engine to stop on rb_record_failed() before each step (see record.h).
  [ ! -e "$dir/marker2" ] || { cat "$dir/out"; fail "full during the run: step two ran unrecorded"; }
  grep -q "cannot write the run journal $fs/audit/runbook/journal/.*\.log: No space left on device" "$dir/out" ||
    { cat "$dir/out"; fail "full during the run: no message naming the journal"; }
  journal=$(ls "$fs"/audit/runbook/journal/*.log)
  [ -n "$journal" ] || fail "full during the run: the journal is gone"
  rm -f "$fs/big"
  # The next run commits what the journal has, and says it was cut.
  "$bin" run --audit-repo "$fs/audit" "$dir/marker.md" > "$dir/out" 2>&1 || { cat "$dir/out"; fail "next run failed"; }
  grep -q 'committed the interrupted run .*fill.*; its journal was cut short' "$dir/out" ||
    { cat "$dir/out"; fail "recovery did not commit the cut journal"; }
  [ ! -e "$journal" ] || fail "the recovered journal is still there"
  rec=$(git -C "$fs/audit" ls-tree -r --name-only refs/heads/runbook-audit | grep -- '-fill-[0-9]*/record.md$')
  md=$(git -C "$fs/audit" show "refs/heads/runbook-audit:$rec")
  grep -q 'the run journal was cut here (No space left on device): the .end. event of step .one.' <<< "$md" ||
    { echo "$md"; fail "the recovered record does not say the journal was cut"; }
  # The end of step one did not fit, but its status did, in the space kept for it.
  grep -q '| 1 | `one` | shell | ok | 0 |' <<< "$md" || { echo "$md"; fail "the recovered record lost step one"; }
  grep -q 'Ended:\*\* `unknown: the run journal could not be written`' <<< "$md" || { echo "$md"; fail "no end reason"; }
  ! grep -q '`two`' <<< "$md" || { echo "$md"; fail "step two is in the record"; }
  umount "$fs"; mounted=
else
  echo "audit-faults: cannot mount a tmpfs here (not root?): the full-filesystem cases are skipped"
fi

# --- a lock left on the audit ref ---------------------------------------------
git init -q "$dir/repo"
cd "$dir/repo"
git config user.name "Ops Person"
git config user.email ops@example.com
cat > locked.md <<MD
# Locked

\`\`\`bash {name=mark}
touch "$dir/marker3"
\`\`\`
MD
"$bin" run locked.md > out 2>&1 || { cat out; fail "first run failed"; }
rm -f "$dir/marker3"
lock=.git/refs/heads/runbook-audit.lock
touch -d '-1 hour' "$lock"
t0=$(date +%s)
rc=0; "$bin" run locked.md > out 2>&1 || rc=$?
[ "$rc" = 5 ] || { cat out; fail "stale lock: expected exit 5, got $rc"; }
[ ! -e "$dir/marker3" ] || fail "stale lock: step 1 ran"
grep -q "$PWD/$lock, left [0-9]* s ago .*if no git process is running, remove that file" out ||
  { cat out; fail "stale lock: the message does not name the lock file"; }
[ $(( $(date +%s) - t0 )) -lt 2 ] || fail "stale lock: refused, but only after a wait"
rm -f "$lock"
# A fresh lock that goes away within the wait: the run goes on.
touch "$lock"
( sleep 0.5; rm -f "$lock" ) &
rc=0; "$bin" run locked.md > out 2>&1 || rc=$?
wait
[ "$rc" = 0 ] && [ -e "$dir/marker3" ] || { cat out; fail "fresh lock: expected the run to wait and succeed (rc=$rc)"; }

# --- kill -9 between the commit and the journal's removal ----------------------
cat > paused.md <<'MD'
# Paused

```bash
echo paused
```
MD
RUNBOOK_TEST_PAUSE_AFTER_COMMIT=1 "$bin" run paused.md > out 2> err &
pid=$!
for _ in $(seq 200); do grep -q 'paused after commit' err && break; sleep 0.05; done
grep -q 'paused after commit' err || { cat out err; fail "the test hook never paused"; }
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
id=$(run_id_of . refs/heads/runbook-audit)
[[ $id == *-paused-* ]] || fail "the paused run is not the last commit ($id)"
ls .git/runbook/journal/*.log > /dev/null || fail "no journal left by the kill"
"$bin" run locked.md > out 2>&1 || { cat out; fail "the run after the kill failed"; }
grep -q "the run $id is already on refs/heads/runbook-audit; removed its leftover journal" out ||
  { cat out; fail "recovery did not notice the run was committed"; }
! grep -q 'committed the interrupted run' out || { cat out; fail "recovery committed the run again"; }
n=$(git log --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | grep -c -x -F "$id" || true)
[ "$n" = 1 ] || fail "the run $id is committed $n times"
[ -z "$(ls .git/runbook/journal/)" ] || fail "a journal is left"
echo "audit-faults ok"
