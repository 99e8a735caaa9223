#!/usr/bin/env bash
# --ephemeral-db after a kill -9: the throwaway server and its directory
# outlive the killed runbook, and the next --ephemeral-db run stops that
# server and removes the directory (one line saying so). A running throwaway
# server's environment holds none of runbook's: a variable exported to
# runbook is not in /proc/<postmaster>/environ.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
mkdir -m 755 "$dir/tmp"
step_pid=
cleanup() {
  [ -n "$step_pid" ] && kill "$step_pid" 2>/dev/null || true
  for f in "$dir"/tmp/runbook-pg-*/data/postmaster.pid; do
    [ -e "$f" ] && kill -QUIT "$(head -1 "$f")" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "orphan-server: $*"; exit 1; }
if [ -z "$(command -v pg_config || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null || true)" ] && [ -z "${RUNBOOK_PG_BINDIR:-}" ]; then
  echo "orphan-server: no PostgreSQL server binaries: skipped"; exit 0
fi

# The step reports the server's environment and its pids, then sleeps.
cat > "$dir/sleep.md" <<MD
# Sleeper

\`\`\`bash {name=report}
pm=\$(head -1 "\$PGHOST/data/postmaster.pid")
tr '\\0' '\\n' < /proc/\$pm/environ > "$dir/environ"
echo "\$PGHOST" > "$dir/pghost.tmp" && mv "$dir/pghost.tmp" "$dir/pghost"
\`\`\`

\`\`\`bash {name=sleep}
echo \$\$ > "$dir/step.pid.tmp" && mv "$dir/step.pid.tmp" "$dir/step.pid"
exec sleep 1031
\`\`\`
MD
chmod 644 "$dir/sleep.md"
printf '# Next\n\n```sql\nSELECT 1;\n```\n' > "$dir/next.md"
chmod 644 "$dir/next.md"

SECRET_TOKEN=zzz-secret-4711 TMPDIR=$dir/tmp "$bin" run --no-audit --ephemeral-db "$dir/sleep.md" > "$dir/out" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e "$dir/step.pid" ] && break; sleep 0.05; done
[ -e "$dir/step.pid" ] || { cat "$dir/out"; fail "the sleeping step never started"; }
step_pid=$(cat "$dir/step.pid")
pghost=$(cat "$dir/pghost")

# The server's environment: the minimum, none of runbook's.
grep -qx 'TZ=UTC' "$dir/environ" || { cut -d= -f1 "$dir/environ"; fail "the server's environment is not the minimal one"; }
if grep -q -e SECRET_TOKEN -e zzz-secret-4711 "$dir/environ"; then fail "a variable of runbook's reached the server"; fi
[ "$(wc -l < "$dir/environ")" -le 6 ] || { cut -d= -f1 "$dir/environ"; fail "the server inherited more than the minimum"; }

kill -9 "$pid"; wait "$pid" 2>/dev/null || true
kill "$step_pid" 2>/dev/null || true; step_pid=
pm=$(head -1 "$pghost/data/postmaster.pid")
[ -d "$pghost" ] || fail "the server directory went with runbook"
kill -0 "$pm" 2>/dev/null || fail "the server went with runbook: nothing to reap"
[ -s "$pghost/runbook.pid" ] || fail "no runbook.pid in $pghost"
[ "$(cut -d' ' -f1 "$pghost/runbook.pid")" = "$pid" ] || fail "runbook.pid does not name the killed runbook"

# The next run stops the orphan and removes its directory, and says so.
TMPDIR=$dir/tmp "$bin" run --no-audit --ephemeral-db "$dir/next.md" > "$dir/out2" 2>&1 ||
  { cat "$dir/out2"; fail "the next run failed"; }
grep -q "removed the throwaway PostgreSQL left in $pghost by runbook pid $pid, which is gone (server pid $pm, stopped)" \
  "$dir/out2" || { cat "$dir/out2"; fail "no line about the orphan"; }
[ ! -e "$pghost" ] || fail "the orphan's directory is still there"
state=$(awk '{print $3}' "/proc/$pm/stat" 2>/dev/null || true)
[ -z "$state" ] || [ "$state" = Z ] || fail "the orphan's postmaster $pm still runs ($state)"
# (A killed --no-audit run may leave its run lock file: harmless, reused by the next run.)
[ -z "$(ls -A "$dir/tmp" | grep -v '^runbook-lock-')" ] || { ls -la "$dir/tmp"; fail "a server directory is left"; }

# A server kept with --keep-db is no orphan: a later run leaves it alone.
TMPDIR=$dir/tmp "$bin" run --no-audit --ephemeral-db --keep-db "$dir/next.md" > "$dir/keep" 2>&1
kept=$(sed -n 's/.*rm -rf \(.*\)$/\1/p' "$dir/keep")
kpid=$(sed -n 's/.*keeps running (pid \([0-9]*\)).*/\1/p' "$dir/keep")
[ -n "$kept" ] && [ -n "$kpid" ] || { cat "$dir/keep"; fail "--keep-db did not say how to connect"; }
TMPDIR=$dir/tmp "$bin" run --no-audit --ephemeral-db "$dir/next.md" > "$dir/out3" 2>&1 || { cat "$dir/out3"; fail "run after --keep-db"; }
! grep -q 'removed the throwaway PostgreSQL' "$dir/out3" || { cat "$dir/out3"; fail "the kept server was reaped"; }
kill -0 "$kpid" 2>/dev/null && [ -d "$kept" ] || fail "the kept server is gone"
kill "$kpid"
for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.05; done
rm -rf "$kept"
echo "orphan-server ok"
