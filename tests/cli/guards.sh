#!/usr/bin/env bash
# Partial runs keep their guards: --from, --only and --resume check every
# gate and approval before the first selected step again (with abort
# conditions armed and lua steps computing what the guards read);
# --skip-guards bypasses them only when approved, and the record says so.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
run() { # run EXPECTED ARGS...: runbook run with the audit repository
  local want=$1 rc=0; shift
  "$bin" run --audit-repo "$audit" "$@" > out 2> err < /dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "run $*: expected exit $want, got $rc"
}
last_record() { # record.md of the newest run: the one file of that name the last commit added
  local ref=refs/heads/runbook-audit
  git --git-dir="$audit" show "$ref:$(git --git-dir="$audit" diff-tree --root --no-commit-id --name-only -r "$ref" | grep '/record.md$')"
}

# A clock gate fed a fixed time, an approval, an abort condition, then the
# destructive step.
cat > prod.md <<'MD'
---
env:
  NOW: "2026-11-30T03:00:00Z"
---
# Production change

```lua {name=clock}
local y, mo, d, h, mi = string.match(vars.NOW, "^(%d+)-(%d+)-(%d+)T(%d+):(%d+)")
vars.HOUR = tostring(tonumber(h))
```

- [ ] the on-call engineer agrees

```lua gate {name=window}
local h = tonumber(vars.HOUR)
return h >= 2 and h < 4, "the hour is " .. vars.HOUR
```

```lua abort {name=stop-file every=200ms}
return file.exists("STOP"), "STOP file"
```

```bash {name=prepare}
echo prepared >> prepared.log
```

```bash {name=destroy}
( sleep 0.4; [ -e stop-during ] && touch STOP ) &
sleep 1
echo destroyed >> destroyed.log
```

```bash {name=after}
echo after
```
MD

# 0. The plan shows the same selection, touching nothing.
"$bin" plan --only destroy prod.md > out
grep -qx '  production-change-2, window -- checks again' out || fail "plan --only: guards not listed"
grep -qx '  stop-file -- arms' out || fail "plan --only: abort condition not listed"
grep -qx '  clock -- computes' out || fail "plan --only: lua step not listed"
grep -qx '  destroy -- runs' out || fail "plan --only: the selected step not listed"
grep -qx '  prepare, after -- skips (not shown below)' out || fail "plan --only: skipped steps not listed"
! grep -qE '^  \[[0-9]+/[0-9]+\] [a-z]+  (prepare|after)  ' out || fail "plan --only shows a step that does not run"
grep -qE '^  \[[0-9]+/[0-9]+\] [a-z]+  destroy  ' out || fail "plan --only does not show the step that runs"
"$bin" plan --from destroy --skip-guards prod.md > out
grep -qx '  production-change-2, window -- skips the guards (--skip-guards)' out || fail "plan --skip-guards"
grep -qx '  destroy, after -- runs' out || fail "plan --from: the steps to run"
"$bin" plan --json --only destroy prod.md > out
python3 -c 'import json,sys; d=json.load(open("out")); s={x["id"]: x.get("selected") for x in d["steps"]}; assert s["window"]=="guard" and s["destroy"]=="run" and s["prepare"]=="skip" and s["clock"]=="compute", s' \
  || fail "plan --json: selection"
[ ! -e "$audit" ] || fail "plan wrote something"

# 1. Closed gate: --only and --from on the destructive step stop at it.
for sel in "--only destroy" "--from destroy"; do
  # shellcheck disable=SC2086
  run 3 --yes --set NOW=2026-11-30T12:00:00Z $sel prod.md
  grep -q "step 'window': gate closed: the hour is 12" err || fail "$sel: the window gate was not checked"
  [ ! -e destroyed.log ] || fail "$sel: the destructive step ran behind a closed gate"
  [ ! -e prepared.log ] || fail "$sel: a step before the selection ran"
done

# 2. Open gate: the approval is asked again; refused without a terminal,
#    given with --yes.
run 3 --only destroy prod.md
grep -q 'not approved: the on-call engineer agrees' err || fail "the approval was not asked again"
[ ! -e destroyed.log ] || fail "ran without the approval"
run 0 --yes --only destroy prod.md
[ "$(cat destroyed.log)" = destroyed ] || fail "--only destroy did not run it"
grep -q 'gate open: the hour is 3' out || fail "the gate was not re-checked on the way"
grep -q 'after' out && fail "--only ran a later step"
[ ! -e prepared.log ] || fail "--only ran an earlier action"
last_record | grep -q '| `window` | gate | ok' || fail "the re-checked gate is not in the record"
rm -f destroyed.log

# 3. The abort condition before the selection is armed: it stops the step.
touch stop-during
run 4 --yes --from destroy prod.md
grep -q "abort condition 'stop-file' fired" err || fail "--from: the abort condition before it was not armed"
rm -f stop-during STOP destroyed.log

# 4. --skip-guards: refused without a terminal and --yes; with --yes the step
#    runs, the guards are named on the terminal and in the record.
run 2 --skip-guards prod.md
grep -q -- '--skip-guards goes with --from, --only or --resume' err || fail "--skip-guards alone accepted"
run 3 --skip-guards --only destroy --set NOW=2026-11-30T12:00:00Z prod.md
grep -q 'skipping the guards was not approved' err || fail "--skip-guards not refused without --yes"
[ ! -e destroyed.log ] || fail "--skip-guards ran without approval"
run 0 --skip-guards --yes --only destroy --set NOW=2026-11-30T12:00:00Z prod.md
[ "$(cat destroyed.log)" = destroyed ] || fail "--skip-guards --yes did not run the step"
grep -q 'these guards will not be checked: approval-1\|these guards will not be checked: .*window' out \
  || fail "the skipped guards are not listed"
rec=$(last_record)
grep -q 'guards skipped (--skip-guards)' <<< "$rec" || fail "the record does not say guards were skipped"
grep -q 'window' <<< "$rec" || fail "the record does not name the skipped gate"
grep -q -- '--skip-guards' <<< "$rec" || fail "the record has no approval for --skip-guards"
rm -f destroyed.log

# 5. A guard that reads a capture of a skipped step says which step to run.
cat > capture.md <<'MD'
# Capture

```bash {name=measure capture=FREE_MB}
echo 5000
```

```lua gate {name=room}
return tonumber(vars.FREE_MB) > 100, vars.FREE_MB .. " MiB free"
```

```bash {name=work}
echo worked
```
MD
run 3 --only work capture.md
grep -q "this guard needs vars.FREE_MB, which step 'measure' (capture.md:3) sets, and this run skips that step: run from it (--from measure)" err \
  || fail "the missing capture is not explained"
grep -q worked out && fail "ran behind an unevaluable guard"
run 0 --only work --set FREE_MB=6000 capture.md

# 6. --resume re-checks a backup-freshness gate: stale by now, the resume stops.
cat > resume.md <<'MD'
# Resume with a backup

```bash {name=backup capture=BACKUP_FILE}
echo "data" > backup.dump
echo "$PWD/backup.dump"
```

```lua gate {name=backup-fresh}
local backup = require "backup"
return backup.fresh(vars.BACKUP_FILE, "15m")
```

```bash {name=migrate}
test -e fixed
echo migrated
```
MD
run 1 resume.md
touch fixed
touch -d '-1 hour' backup.dump
"$bin" plan --audit-repo "$audit" --resume resume.md > out || fail "plan --resume failed"
grep -q "^Resume: continues run .* at step 'migrate'" out || fail "plan --resume: the run continued"
grep -qx '  backup-fresh -- checks again' out || fail "plan --resume: the backup gate is not re-checked"
run 3 --resume resume.md
grep -q "step 'backup-fresh': gate closed" err || fail "--resume did not re-check the backup gate"
grep -q migrated out && fail "--resume migrated behind a stale backup"
touch backup.dump
run 0 --resume resume.md
grep -q migrated out || fail "--resume with a fresh backup did not migrate"
echo "partial runs keep their guards"
