#!/usr/bin/env bash
# A step never outlives its runbook: after kill -9 of runbook, the watchdog
# stops the running step's process group, and the server cancels the
# statement whose client vanished.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && sleep 0.5
  rm -rf "$dir" "${server_dir:-/nonexistent-dir}"
  return 0
}
trap cleanup EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

# 1. kill -9 during `sleep & sleep; wait`: nothing of the step is left within 3 s.
nap=60.$$
cat > shell.md <<MD
# Orphans

\`\`\`bash {name=long}
echo started
sleep $nap & sleep $nap; wait
\`\`\`
MD
"$bin" run shell.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -q started out && break; sleep 0.05; done
sleep 0.3
[ "$(pgrep -fc "^sleep $nap$")" = 2 ] || fail "the step's processes did not start"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
gone=0
for _ in $(seq 30); do pgrep -f "^sleep $nap$" >/dev/null || { gone=1; break; }; sleep 0.1; done
[ "$gone" = 1 ] || { pkill -f "^sleep $nap$"; fail "the step's processes outlived runbook by 3 s"; }
echo "kill -9 during a shell step: its process group is gone"

# A normal run leaves no watchdog behind.
printf '# Quick\n\n```bash\necho quick\n```\n' > quick.md
"$bin" run quick.md > out 2> err
sleep 0.2
[ -z "$(pgrep -P $$ -f "$bin")" ] || fail "a watchdog outlived a normal run"

# 2. kill -9 during SELECT pg_sleep(60) on a server that stays up: the
#    server cancels the statement within a few seconds.
printf '# Server\n\n```bash\necho up\n```\n' > up.md
"$bin" run --ephemeral-db --keep-db --no-audit up.md > server.out 2>&1
kept_server server.out || { cat server.out; fail "no server"; }
server_pid=$pid server_dir=$srv
printf '# Sleep\n\n```sql {name=nap}\nSELECT pg_sleep(60.5);\n```\n' > sql.md
"$bin" run --db "$url" sql.md > out 2> err &
pid=$!
active() { psql "$url" -XAtc "select count(*) from pg_stat_activity where query like 'SELECT pg_sleep(60.5)%' and state = 'active'"; }
for _ in $(seq 100); do [ "$(active)" = 1 ] && break; sleep 0.1; done
[ "$(active)" = 1 ] || fail "the statement never started"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
t0=$(date +%s%N)
for _ in $(seq 100); do [ "$(active)" = 0 ] && break; sleep 0.1; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(active)" = 0 ] || fail "the statement kept running on the server after runbook died"
echo "kill -9 during a statement: the server cancelled it after $ms ms"
