#!/usr/bin/env bash
# Lua limits and abort conditions, timed; approvals answered on a real terminal.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
now_ms() { date +%s%3N; }

# A runaway gate ends with a clear error, stopped by the instruction limit before the 5 s time limit.
printf '# Loop\n\n```lua gate\nwhile true do end\n```\n' > loop.md
t0=$(now_ms); rc=0; "$bin" run loop.md > out 2> err || rc=$?; t1=$(now_ms)
[ "$rc" = 3 ] || { echo "runaway gate: expected exit 3, got $rc"; exit 1; }
grep -q 'instruction limit exceeded' err || { echo "no instruction limit message"; cat err; exit 1; }
[ $((t1 - t0)) -lt 5000 ] || { echo "runaway gate took $((t1 - t0)) ms"; exit 1; }

# A memory bomb is stopped and reported as such.
printf '# Bomb\n\n```lua gate\nlocal t = {} for i = 1, 1e9 do t[i] = string.rep("x", 16777216) .. i end\n```\n' > bomb.md
rc=0; "$bin" run bomb.md > out 2> err || rc=$?
[ "$rc" = 3 ] && grep -q 'memory limit exceeded' err || { echo "memory bomb: rc=$rc"; cat err; exit 1; }

# An abort condition fires during a long step: the step is killed within
# every + 1 s, the handler runs, exit 4.
cat > abort.md <<'MD'
---
on_failure: Clean up
---
# Watched

```lua abort {every=1s}
return file.exists("stop"), "a stop file appeared"
```

```bash {name=long}
( sleep 1; touch stop ) &
sleep "$NAP"
```

```bash
echo never reached
```

## Clean up

```bash
echo "cleaned up after $FAILED_STEP: $FAILURE_REASON ($ABORT_CONDITION)"
```
MD
nap=30.$$  # a duration no other test uses, to find this step's process
t0=$(now_ms); rc=0; "$bin" run --set NAP=$nap abort.md > out 2> err || rc=$?; t1=$(now_ms)
[ "$rc" = 4 ] || { echo "abort: expected exit 4, got $rc"; cat out err; exit 1; }
[ $((t1 - t0)) -lt 3500 ] || { echo "abort took $((t1 - t0)) ms"; exit 1; }
# FAILED_STEP is the step that was running; ABORT_CONDITION the condition.
grep -qx 'cleaned up after long: a stop file appeared (watched-1)' out
grep -q "abort condition 'watched-1' fired: a stop file appeared" err
! grep -q 'never reached' out
if pgrep -f "^sleep $nap\$" >/dev/null; then echo "the step's process survived"; pgrep -af "^sleep $nap\$"; exit 1; fi

# Approvals on a real terminal: y approves, anything else refuses; a phrase must be typed exactly.
cat > ask.md <<'MD'
# Ask

- [ ] Backup verified

```bash {confirm="PROMOTE"}
echo promoted
```
MD
cat > answer.py <<'PY'
import os, pty, sys, time
answers = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "run", "ask.md"])
out = b""
deadline = time.time() + 20
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if answers and (out.endswith(b"[y/N] ") or out.endswith(b"to go on: ")):
        os.write(fd, answers.pop(0).encode() + b"\n")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
rc=0; python3 answer.py "$bin" y PROMOTE > out || rc=$?
[ "$rc" = 0 ] && grep -q 'promoted' out && grep -q 'Backup verified  (terminal)' out || { echo "pty approve: rc=$rc"; cat out; exit 1; }
rc=0; python3 answer.py "$bin" n > out || rc=$?
[ "$rc" = 3 ] && ! grep -q 'promoted' out || { echo "pty refuse: rc=$rc"; cat out; exit 1; }
# A wrong phrase is asked again, three times in all, then refused.
rc=0; python3 answer.py "$bin" y promote Promote PROMOTE! > out || rc=$?
[ "$rc" = 3 ] && ! grep -q '^promoted' out && [ "$(grep -c 'to go on: ' out)" = 3 ] ||
  { echo "pty wrong phrase: rc=$rc"; cat out; exit 1; }
echo "lua limits, aborts and terminal approvals ok"
