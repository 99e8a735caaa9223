#!/usr/bin/env bash
# Failure handlers finish: an abort condition that stopped the run is quiet
# while the on_failure section runs (unless during_handler=true), FAILED_STEP
# names the step that was running and ABORT_CONDITION the condition; a
# second signal stops the handler and no further handler step starts.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

write() { # write FILE ABORT-ATTRS
cat > "$1" <<MD
---
on_failure: Roll back
---
# Handled

\`\`\`lua abort {name=stop-file every=200ms $2}
return file.exists("STOP"), "the STOP file is there"
\`\`\`

\`\`\`bash {name=first}
echo first
\`\`\`

\`\`\`bash {name=second}
( sleep 0.5; touch STOP ) &
sleep 20
\`\`\`

\`\`\`bash {name=third}
echo never
\`\`\`

## Roll back

\`\`\`bash {name=slow-undo timeout=10s}
echo "handler: FAILED_STEP=\$FAILED_STEP ABORT_CONDITION=\$ABORT_CONDITION EXIT=\$FAILURE_EXIT_CODE"
echo "reason: \$FAILURE_REASON"
sleep 3
echo "undo complete"
\`\`\`

\`\`\`bash {name=after-undo}
echo "second handler step ran"
\`\`\`
MD
}

# 1. The abort fires during step 2; the handler's 3-second step completes.
write quiet.md ""
rm -f STOP
rc=0; "$bin" run quiet.md > out 2> err || rc=$?
[ "$rc" = 4 ] || fail "expected exit 4, got $rc"
grep -qx 'handler: FAILED_STEP=second ABORT_CONDITION=stop-file EXIT=4' out || fail "handler variables"
grep -qx 'reason: the STOP file is there' out || fail "FAILURE_REASON is not the condition's message"
grep -qx 'undo complete' out || fail "the handler step was cancelled"
grep -qx 'second handler step ran' out || fail "the second handler step did not run"
grep -q 'never' out && fail "step 3 ran"
grep -q "cancelled after .*: an abort condition fired" <(grep -A100 'Running the failure handler' out) \
  && fail "the abort condition cancelled the handler"

# 2. during_handler=true: a condition that opted in stays armed in the
#    handler and cancels its step; no further handler step starts.
cat > armed.md <<'MD'
---
on_failure: Roll back
---
# Armed

```lua abort {name=stop-file every=200ms}
return file.exists("STOP"), "the STOP file is there"
```

```lua abort {name=halt every=200ms during_handler=true}
return file.exists("HALT"), "HALT: stop touching this system"
```

```bash {name=second}
( sleep 0.5; touch STOP ) &
sleep 20
```

## Roll back

```bash {name=slow-undo}
echo "handler: FAILED_STEP=$FAILED_STEP ABORT_CONDITION=$ABORT_CONDITION"
( sleep 0.5; touch HALT ) &
sleep 3
echo "undo complete"
```

```bash {name=after-undo}
echo "second handler step ran"
```
MD
rm -f STOP HALT
rc=0; "$bin" run armed.md > out 2> err || rc=$?
[ "$rc" = 4 ] || fail "during_handler: expected exit 4, got $rc"
grep -qx 'handler: FAILED_STEP=second ABORT_CONDITION=stop-file' out || fail "during_handler: handler variables"
grep -q 'undo complete' out && fail "during_handler: the handler step was not cancelled"
grep -q 'second handler step ran' out && fail "during_handler: a handler step started after the abort"
grep -q "The failure handler was stopped: abort condition 'halt' fired: HALT" out || fail "during_handler: not said"
# Still true when the handler starts: it fires before the first handler step.
rm -f HALT; touch HALT STOP
rc=0; "$bin" run armed.md > out 2> err || rc=$?
[ "$rc" = 4 ] || fail "HALT from the start: expected exit 4, got $rc"
grep -q 'handler:' out && fail "HALT from the start: a handler step started"
rm -f STOP HALT

# 3. SIGTERM, then a second SIGTERM during the handler: it stops, no further
#    handler step starts, exit 143.
cat > term.md <<'MD'
---
on_failure: Roll back
---
# Terminated

```bash {name=long}
echo started
sleep 29.31
```

## Roll back

```bash {name=undo-1}
echo "undo-1 started after $FAILED_STEP ($FAILURE_EXIT_CODE)"
sleep 29.32
```

```bash {name=undo-2}
echo "undo-2 ran"
```
MD
"$bin" run term.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -q started out && break; sleep 0.05; done
kill -TERM "$pid"
for _ in $(seq 100); do grep -q 'undo-1 started' out && break; sleep 0.05; done
grep -qx 'undo-1 started after long (143)' out || fail "SIGTERM: handler variables"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 143 ] || fail "SIGTERM twice: expected exit 143, got $rc"
grep -q 'undo-2 ran' out && fail "a handler step started after the second signal"
grep -q 'stopped by a second interrupt' out || fail "the stopped handler is not said"
sleep 0.2
pgrep -f '^sleep 29\.3[12]$' >/dev/null && fail "a step process was left behind"
echo "handlers finish, and stop on a second signal"
