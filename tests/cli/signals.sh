#!/usr/bin/env bash
# Signals are honoured at once wherever runbook waits: at an approval or
# confirmation prompt on a terminal, while connecting to a server that never
# answers, and while a gate's sql() runs. Lua's sql() is read-only and ends
# with the evaluation's time limit.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"; [ -n "${lpid:-}" ] && kill "$lpid" 2>/dev/null; true' EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

# 1. At a prompt on a pseudo-terminal: SIGINT, SIGTERM, SIGHUP end the run
#    promptly with 128 + the signal, and the step behind the prompt never runs.
cat > prompt.md <<'MD'
# Prompt

- [ ] the change window is open

```bash {name=after confirm="GO"}
touch ran
```
MD
cat > ptyrun.py <<'PY'
import os, pty, select, signal, sys, time
binary, runbook, sig, wait_for = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
args = [binary, "run", runbook] + sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, args)
seen = b""
deadline = time.time() + 20
while wait_for.encode() not in seen and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        seen += data
if wait_for.encode() not in seen:
    print("never saw the prompt:", seen.decode(errors="replace")); sys.exit(2)
time.sleep(0.3)
t0 = time.time()
os.kill(pid, getattr(signal, "SIG" + sig))
while True:
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            os.read(fd, 4096)
        except OSError:
            pass
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.time() - t0 > 10:
        os.kill(pid, signal.SIGKILL); print("did not stop within 10 s"); sys.exit(2)
ms = int((time.time() - t0) * 1000)
print(os.waitstatus_to_exitcode(status), ms)
PY
for sig in INT TERM HUP; do
  want=$((128 + $(kill -l "$sig")))
  read -r code ms < <(python3 ptyrun.py "$bin" prompt.md "$sig" "approve:")
  [ "$code" = "$want" ] || fail "SIG$sig at the approval prompt: expected $want, got $code"
  [ "$ms" -lt 1000 ] || fail "SIG$sig at the approval prompt took $ms ms"
  echo "SIG$sig at the approval prompt: exit $code after $ms ms"
done
[ ! -e ran ] || fail "the step behind the prompt ran"
read -r code ms < <(python3 ptyrun.py "$bin" prompt.md TERM "type GO" --yes)
[ "$code" = 143 ] || fail "SIGTERM at the phrase prompt: expected 143, got $code"
[ "$ms" -lt 1000 ] || fail "SIGTERM at the phrase prompt took $ms ms"
[ ! -e ran ] || fail "the confirmed step ran"
echo "SIGTERM at the phrase prompt: exit $code after $ms ms"

# 2. A server that accepts and never answers: a loopback listener that never
#    calls accept(). The connect timeout bounds the wait; a signal ends it.
python3 - > port <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1]); sys.stdout.flush()
time.sleep(120)
PY
lpid=$!
for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
port=$(cat port)
printf '# Hang\n\n```sql\nSELECT 1;\n```\n' > hang.md
t0=$(date +%s%N); rc=0
"$bin" run --db "postgresql://nobody@127.0.0.1:$port/x?connect_timeout=2" hang.md > out 2> err || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 5 ] || fail "connect timeout: expected exit 5, got $rc"
[ "$ms" -lt 4000 ] || fail "connect timeout of 2 s took $ms ms"
grep -q 'no answer within the connect timeout (2s)' err || fail "the timeout is not said"
grep -q "127.0.0.1:$port" err || fail "the target is not named"
echo "unanswered connect: exit 5 after $ms ms (connect_timeout=2)"
"$bin" run --db "postgresql://nobody@127.0.0.1:$port/x" hang.md > out 2> err &
pid=$!
sleep 0.7
t0=$(date +%s%N); kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 143 ] || fail "SIGTERM while connecting: expected 143, got $rc"
[ "$ms" -lt 1000 ] || fail "SIGTERM while connecting took $ms ms"
echo "SIGTERM while connecting: exit 143 after $ms ms"
kill "$lpid" 2>/dev/null || true; lpid=

# 3. Lua's sql(): read-only, bounded by the evaluation's time limit, and
#    cancelled by a signal.
cat > lua-sql.md <<'MD'
# Lua SQL

```lua {name=try-write}
local ok, err = pcall(sql, "CREATE TABLE written_by_lua (i int)")
vars.WRITE_RESULT = ok and "written" or tostring(err)
```

```bash
echo "write: $WRITE_RESULT"
psql -XAtc "select count(*) from pg_class where relname = 'written_by_lua'"
```

```lua gate {name=slow}
return sql1("select pg_sleep(30) is not null"), "slept"
```
MD
t0=$(date +%s%N); rc=0
"$bin" run --ephemeral-db lua-sql.md > out 2> err || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q '^write: .*read-only transaction' out || fail "sql() could write"
grep -qx '0' out || fail "the table written by Lua exists"
[ "$rc" = 3 ] || fail "slow gate: expected exit 3 (time limit), got $rc"
grep -q 'statement timeout\|time limit' err || fail "the slow gate's end is not explained"
# (the bound is the 30 s sleep the limit cuts short, the throwaway server's start included)
[ "$ms" -lt 28000 ] || fail "the slow gate took $ms ms"
"$bin" run --ephemeral-db lua-sql.md > out 2> err &
pid=$!
for _ in $(seq 200); do grep -q 'slow (gate)' out && break; sleep 0.05; done
sleep 0.5
t0=$(date +%s%N); kill -INT "$pid"; rc=0; wait "$pid" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 130 ] || fail "SIGINT during sql() in a gate: expected 130, got $rc"
[ "$ms" -lt 2500 ] || fail "SIGINT during sql() took $ms ms (server stop included)"
echo "SIGINT during a gate's sql(): exit 130 after $ms ms"
echo "signals are honoured at prompts, while connecting and in Lua SQL"
