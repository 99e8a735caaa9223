#!/usr/bin/env bash
# The server dies under a running step, comes back between steps, or is not
# there at all: runbook says what is known, exits 5, and the failure handler
# runs on a fresh connection when the server is back.
. "$(dirname "$0")/lib.sh"
fault_setup
cd "$work"

# 1. Stopped with `pg_ctl stop -m immediate` during a long statement, inside
#    the step's transaction: exit 5, "rolled the block's transaction back".
cat > dies.md <<'MD'
---
on_failure: After
---
# Dies

```sql {name=long}
CREATE TABLE IF NOT EXISTS t (i int);
INSERT INTO t VALUES (1);
SELECT pg_sleep(30);
```

## After

```bash
echo "handler ran after $FAILED_STEP ($FAILURE_EXIT_CODE)"
```
MD
"$bin" run --db "$url" dies.md > out 2> err &
pid=$!
for _ in $(seq 100); do [ "$(q "select count(*) from pg_stat_activity where query like 'SELECT pg_sleep(30)%'")" = 1 ] && break; sleep 0.1; done
stop_server immediate
rc=0; wait "$pid" || rc=$?
[ "$rc" = 5 ] || fail "server stopped mid-statement: expected exit 5, got $rc"
grep -q "lost the connection to the server: .*the server rolled the block's transaction back" err \
  || fail "the message does not say what happened to the transaction"
grep -qx 'handler ran after long (5)' out || fail "the handler did not run"
start_server
[ "$(q "select to_regclass('t') is null")" = t ] || fail "the interrupted transaction's table is there"
q "CREATE TABLE t (i int)" >/dev/null
git --git-dir="$work/audit" log -1 --format=%s refs/heads/runbook-audit | grep -q 'failed' || fail "not recorded"
echo "server stopped mid-statement: exit 5, rolled back, handler ran"

# 1b. The same in a block of one statement, which COMMIT rides with (one round
#     trip): whether it committed cannot be known, and the message says so.
cat > one.md <<'MD'
# One

```sql {name=one}
SELECT pg_sleep(30);
```
MD
"$bin" run --db "$url" one.md > out 2> err &
pid=$!
for _ in $(seq 100); do [ "$(q "select count(*) from pg_stat_activity where query like 'SELECT pg_sleep(30)%'")" = 1 ] && break; sleep 0.1; done
stop_server immediate
rc=0; wait "$pid" || rc=$?
[ "$rc" = 5 ] || fail "server stopped mid-statement (one statement): expected exit 5, got $rc"
grep -q "lost the connection to the server: .*this statement's outcome is unknown: check before retrying" err \
  || fail "one statement: the message does not say that the outcome is unknown: $(cat err)"
start_server
echo "server stopped mid-statement of a one-statement block: exit 5, outcome unknown"

# 2. Restarted between two steps: the next SQL step reconnects and succeeds.
cat > restart.md <<'MD'
# Restart

```sql
INSERT INTO t VALUES (2);
```

```bash
"$PG_CTL_RESTART"
```

```sql
INSERT INTO t VALUES (3);
SELECT count(*) AS rows FROM t;
```
MD
cat > restart.sh <<SH
#!/usr/bin/env bash
$( [ -n "$owner" ] && echo "runuser -u $owner -- " )"$bindir/pg_ctl" -D "$data" -m fast -w -o "-k $sock -c listen_addresses= -c fsync=off" restart >/dev/null
SH
chmod +x restart.sh
PG_CTL_RESTART=$work/restart.sh "$bin" run --db "$url" restart.md > out 2> err || fail "restart between steps failed"
grep -q ' 2$' out || fail "the last step did not see both rows"
echo "server restarted between steps: the next step reconnected"

# 3. Connection refused (no server on that socket): exit 5 at once, naming the target.
t0=$(date +%s%N); rc=0
"$bin" run --db "postgresql://postgres@/postgres?host=$work/nowhere" restart.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "connection refused: expected exit 5, got $rc"
[ "$(ms_since "$t0")" -lt 3000 ] || fail "connection refused took too long"
grep -q "cannot connect to the database at postgresql://postgres@/postgres?host=$work/nowhere" err || fail "target not named"
echo "connection refused: exit 5"

# 4. A listener on 127.0.0.1 that accepts and never answers: the connect
#    timeout (front matter connect_timeout: 1s) bounds the wait.
python3 - > port <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1]); sys.stdout.flush()
time.sleep(60)
PY
lpid=$!
for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
printf -- '---\nconnect_timeout: 1s\n---\n# Hang\n\n```sql\nSELECT 1;\n```\n' > hang.md
t0=$(date +%s%N); rc=0
"$bin" run --db "postgresql://nobody@127.0.0.1:$(cat port)/x" hang.md > out 2> err || rc=$?
ms=$(ms_since "$t0")
kill "$lpid" 2>/dev/null || true
[ "$rc" = 5 ] || fail "silent listener: expected exit 5, got $rc"
[ "$ms" -lt 3000 ] || fail "connect_timeout 1s took $ms ms"
grep -q 'no answer within the connect timeout (1s)' err || fail "the timeout is not named"
echo "silent listener: exit 5 after $ms ms (connect_timeout: 1s)"
