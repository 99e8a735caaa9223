#!/usr/bin/env bash
# What an operator running a runbook for the first time trips over: a gate
# that ends the run because there is nothing to do, a mistyped --set, a
# section selected by its anchor, Runme's excludeFromRunAll, summaries that
# count every step, and a plan of a partial run that shows what runs.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
run() { # run EXPECTED ARGS...: runbook run with the audit repository
  local want=$1 rc=0; shift
  "$bin" run --audit-repo "$audit" "$@" > out 2> err < /dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "run $*: expected exit $want, got $rc"
}
ref() { git --git-dir="$audit" rev-parse -q --verify refs/heads/runbook-audit || true; }
last_json() { "$bin" show --json --audit-repo "$audit" latest; }

cat > triage.md <<'MD'
---
title: Alert triage
env:
  ALERT: firing
on_failure: rollback
---
# Triage

## Look

```bash {name=look undo=unlook}
echo looked >> trail
```

```bash undo {name=unlook}
echo unlooked >> trail
```

```lua gate {name=firing}
if vars.ALERT == "resolved" then return rb.done("alert resolved, nothing to do") end
return true
```

## Fix

```bash {name=fix}
echo fixed >> trail
[ "$ALERT" != broken ]
```

### Fix more

```bash {name=more}
echo more >> trail
```

```bash {name=extra excludeFromRunAll=true}
echo extra >> trail
```

```bash {name=never skip}
echo never >> trail
```

## Rollback

```lua gate {name=rollback-gate}
return rb.done("a done gate in the handler is only an open gate")
```

```bash {name=rollback-step}
echo rolled-back >> trail
```
MD

# 1. A gate that says "done" ends the run with success: nothing after it
#    runs, no handler, no undo; the summary and the record say why.
rm -f trail
run 0 --set ALERT=resolved triage.md
[ "$(cat trail)" = looked ] || fail "done gate: the steps that ran: $(cat trail)"
grep -qx "the run ends here: gate 'firing' says there is nothing more to do" out || fail "done gate: no line saying the run ends"
grep -qx "Done: 2 ok, 0 failed, 3 not run: gate 'firing' ended the run: alert resolved, nothing to do" out \
  || fail "done gate: summary"
last_json > rec.json
[ "$(jq -r .result rec.json)" = succeeded ] || fail "done gate: record result"
jq -e '.notes[] | select(.text | test("gate .firing. says there is nothing more to do")) | select(.step == "firing" and .reason == "alert resolved, nothing to do")' rec.json > /dev/null \
  || fail "done gate: the record's note with the gate and the reason: $(jq -c .notes rec.json)"
[ "$(jq '[.steps[] | select(.id == "fix" or .id == "rollback-step" or .id == "unlook")] | length' rec.json)" = 0 ] \
  || fail "done gate: the record has steps after the gate"

# 2. A gate that returns true goes on; --set of a name the runbook uses is no warning.
rm -f trail
run 0 --set ALERT=firing triage.md
[ "$(tr '\n' ' ' < trail)" = "looked fixed more " ] || fail "open gate: $(cat trail)"
grep -qx "Running Alert triage (triage.md): 4 of 5 steps" out || fail "header: excluded step not left out of the count"
grep -qx "\[5/5\] extra skipped: excludeFromRunAll: not part of a whole run (--only extra runs it)" out \
  || fail "excludeFromRunAll: not skipped with its reason"
grep -qx "Done: 4 ok, 0 failed, 1 skipped" out || fail "summary counts the skipped step"
grep -q 'warning' err && fail "a used --set name was warned about"

# 3. A failure after an open gate: the handler's done gate is an open gate,
#    the handler's next step runs; undo runs; summary counts all.
rm -f trail
run 1 --set ALERT=broken triage.md
[ "$(tr '\n' ' ' < trail)" = "looked fixed unlooked rolled-back " ] || fail "failure + handler: $(cat trail)"
grep -qx "Stopped (exit 1): 2 ok, 1 failed, 2 not run; 1 undone" out || fail "failure: summary"

# 4. --resume of that run, now that the alert is resolved: the gate before
#    the step it resumes from is checked again and ends the run (exit 0).
run 1 --no-undo --yes --set ALERT=broken triage.md
rm -f trail
run 0 --resume --force --set ALERT=resolved triage.md
[ ! -e trail ] || [ "$(cat trail)" = "" ] || fail "resume + done gate: steps ran: $(cat trail)"
grep -q "gate 'firing' ended the run" out || fail "resume: the re-checked gate did not end the run"
# ... and a second --resume has nothing to continue.
rc=0; "$bin" run --audit-repo "$audit" --resume triage.md > out 2> err < /dev/null || rc=$?
[ "$rc" != 0 ] || fail "second resume after a successful end: accepted"

# 5. --from a later step: the done gate is a guard checked again.
rm -f trail
run 0 --from more --set ALERT=resolved triage.md
[ ! -e trail ] || fail "--from + done gate: steps ran: $(cat trail)"
grep -qx "Running Alert triage (triage.md): 2 of 5 steps" out || fail "--from: header"

# 6. when= false on the gate: it is skipped, and the steps after it run.
sed 's/```lua gate {name=firing}/```lua gate {name=firing when="false"}/' triage.md > when.md
rm -f trail
run 0 --set ALERT=resolved when.md
[ "$(tr '\n' ' ' < trail)" = "looked fixed more " ] || fail "when= false gate: $(cat trail)"
grep -qx "Done: 3 ok, 0 failed, 2 skipped" out || fail "when= false gate: summary"

# 7. A mistyped --set: a warning with the nearest name; --strict refuses the
#    run before it starts and records nothing. PG* and HOME never warn.
rm -f trail
run 0 --set ALRT=resolved --set PGHOST=/tmp --set HOME="$HOME" triage.md
grep -qx "triage.md: warning: --set ALRT: nothing in the runbook uses 'ALRT' (did you mean 'ALERT'?)" err \
  || fail "mistyped --set: no warning"
[ "$(grep -c warning err)" = 1 ] || fail "--set of PGHOST/HOME warned about"
before=$(ref)
run 2 --strict --set ALRT=resolved triage.md
grep -q "error: --set ALRT" err || fail "--strict: the --set is not an error"
[ "$(ref)" = "$before" ] || fail "--strict refusal was recorded"
[ "$(tr '\n' ' ' < trail)" = "looked fixed more " ] || fail "--strict refusal ran steps"
run 0 --strict --set ALERT=firing --only look triage.md

# 8. --only SECTION: every step of the section and its subsections (not an
#    excluded one); "#anchor" too; a step id still wins; unknown: exit 2.
rm -f trail
run 0 --only fix triage.md  # the step 'fix', not the section 'fix'
[ "$(cat trail)" = fixed ] || fail "--only fix: a step id wins over a section: $(cat trail)"
rm -f trail
run 0 --only '#fix-more' triage.md
[ "$(tr '\n' ' ' < trail)" = "more " ] || fail "--only #fix-more: $(cat trail)"
grep -qx "Running Alert triage (triage.md): 2 of 5 steps" out || fail "--only section: header counts the gate checked again"
grep -qx "Done: 2 ok, 0 failed, 3 skipped" out || fail "--only section: summary"
rm -f trail
run 0 --only look triage.md
run 0 --only extra triage.md
[ "$(tr '\n' ' ' < trail)" = "looked extra " ] || fail "--only extra: the excluded step does not run: $(cat trail)"
run 2 --only nosuch triage.md
grep -q "no step or section with steps 'nosuch'" err || fail "--only unknown: message"
run 2 --from fix-more triage.md
grep -q "no step with id 'fix-more'" err || fail "--from takes step ids only"
run 2 --only mroe triage.md
grep -q "no step or section with steps 'mroe' (did you mean 'more'?)" err || fail "--only: no did you mean"
run 2 --only fix-mroe triage.md
grep -q "(did you mean 'fix-more'?)" err || fail "--only: no did you mean for a section"
sed 's/undo=unlook/undo=unlok/' triage.md > typo.md
rc=0; "$bin" check typo.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "undo= typo: expected exit 2, got $rc"
grep -q "undo=unlok: no block named 'unlok' in this runbook (did you mean 'unlook'?)" out err || fail "undo=: no did you mean"

# 9. plan --only/--from shows only what runs; a whole plan marks the excluded step.
"$bin" plan --from more triage.md > out
grep -qE '^  \[[0-9]/5\] bash  more  ' out || fail "plan --from: the selected step is not shown"
grep -qE '^  \[[0-9]/5\] gate  firing  .*checked again' out || fail "plan --from: the guard is not shown"
! grep -qE '^  \[[0-9]/5\] bash  (look|fix|extra)  ' out || fail "plan --from shows steps that do not run"
grep -qx '  look, fix -- skips (not shown below)' out && grep -qx '  extra -- skips (excludeFromRunAll; not shown below)' out || fail "plan --from: the skipped steps are not named"
"$bin" plan triage.md > out
grep -qE '^  \[5/5\] bash  extra  .*\(excludeFromRunAll: not in a whole run; --only runs it\)' out \
  || fail "plan: the excluded step is not marked"
"$bin" plan --json triage.md | jq -e '.steps[] | select(.id == "extra") | .selected == "excluded"' > /dev/null \
  || fail "plan --json: the excluded step's selection"

echo "first-night-run: ok"
