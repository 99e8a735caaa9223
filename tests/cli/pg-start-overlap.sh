#!/usr/bin/env bash
# --ephemeral-db starts the throwaway server while the run is checked and
# its outputs and record are opened (pgserver.h's rb_pgserver_start_async).
# Whatever stops the run before its first step leaves no server and no
# directory: a runbook the pre-flight check refuses, an output that cannot
# be written once the server is up, Ctrl-C (SIGINT) or SIGTERM while the
# server is up and the run not begun (nothing run, nothing recorded; exit
# 130, 143), also
# with --keep-db; after kill -9 there, the next run reaps the orphan. An
# --events FIFO holds the run between the server's start and the record
# (its open waits for a reader), which makes each point certain.
set -euo pipefail
bin=$1
if [ -z "${RUNBOOK_PG_BINDIR:-}" ] && ! command -v pg_config > /dev/null &&
   ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  echo "pg-start-overlap: no PostgreSQL server binaries: skipped"; exit 77
fi
dir=$(mktemp -d)
chmod 755 "$dir"
mkdir -m 755 "$dir/tmp"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
fail() { echo "pg-start-overlap: $*"; exit 1; }
export RUNBOOK_PG_CACHE=$dir/cache TMPDIR=$dir/tmp

printf '# Mark\n\n```bash\ntouch %s/ran\n```\n' "$dir" > "$dir/mark.md"
printf '# Bad\n\n```sql\nSELEC 1;\n```\n' > "$dir/bad.md"
chmod 644 "$dir"/*.md
# The template first, so that every start below is a copy.
"$bin" run --no-audit --ephemeral-db "$dir/mark.md" > "$dir/prime.out" 2>&1 || { cat "$dir/prime.out"; fail "priming run"; }
rm -f "$dir/ran"

# nothing_left WHAT: no run directory, no server of ours, no step ran.
nothing_left() {
  [ -z "$(ls -A "$dir/tmp")" ] || { ls -la "$dir/tmp"; fail "$1: a run directory was left behind"; }
  ! pgrep -f -- "-D $dir/tmp/" > /dev/null || { pgrep -fa -- "-D $dir/tmp/"; fail "$1: a server was left running"; }
  [ ! -e "$dir/ran" ] || fail "$1: the step ran"
}
# server_up: waits until the run's server accepts connections (its postmaster.pid says ready).
server_up() {
  for _ in $(seq 300); do
    for f in "$dir"/tmp/runbook-pg-*/data/postmaster.pid; do
      [ -f "$f" ] && [ "$(sed -n 8p "$f" 2>/dev/null | tr -d ' ')" = ready ] && return 0
    done
    sleep 0.02
  done
  fail "$1: the server did not start while the run was held"
}
# held NAME SIGNAL [ARGS...]: a run held at its --events FIFO once its server is up, sent SIGNAL
# (none: "-"), then let go; its exit status in $rc, its output in $dir/NAME.out.
held() {
  local name=$1 sig=$2
  shift 2
  rm -f "$dir/ev"
  mkfifo "$dir/ev"
  "$bin" run --ephemeral-db --events "$dir/ev" "$@" "$dir/mark.md" > "$dir/$name.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  server_up "$name"
  [ "$sig" = - ] || kill -"$sig" "$pid"
  if [ "$sig" = KILL ]; then
    rc=0; wait "$pid" || rc=$?
    return
  fi
  cat "$dir/ev" > /dev/null &
  rc=0; wait "$pid" || rc=$?
  wait $! || true
}

# The pre-flight check refuses the runbook: exit 2, the server that had started gone.
rc=0; "$bin" run --no-audit --ephemeral-db "$dir/bad.md" > "$dir/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'error found before the run: nothing was run' "$dir/bad.out" || { cat "$dir/bad.out"; fail "bad runbook: exit $rc"; }
nothing_left "bad runbook"

# Ctrl-C, SIGTERM, each with the server up and the run not begun: nothing run, nothing recorded.
git init -q "$dir/audit"
for sig in INT TERM; do
  held "$sig" "$sig" --audit-repo "$dir/audit"
  want=130
  [ "$sig" = INT ] || want=143
  [ "$rc" = "$want" ] && grep -q 'interrupted before the run began: nothing was run or recorded' "$dir/$sig.out" ||
    { cat "$dir/$sig.out"; fail "SIG$sig before the run: exit $rc"; }
  nothing_left "SIG$sig"
  [ -z "$(git -C "$dir/audit" for-each-ref)" ] || { git -C "$dir/audit" for-each-ref; fail "SIG$sig: a run was recorded"; }
done
# With --keep-db too: a run that never began keeps no server.
held keep INT --no-audit --keep-db
[ "$rc" = 130 ] || { cat "$dir/keep.out"; fail "--keep-db, SIGINT: exit $rc"; }
! grep -q 'keeps running' "$dir/keep.out" || { cat "$dir/keep.out"; fail "--keep-db kept the server of a run that never began"; }
nothing_left "--keep-db, SIGINT"

# An output that cannot be written, found once the server is up (--report's directory is missing).
held report - --no-audit --report "$dir/missing/report.html"
[ "$rc" = 5 ] || { cat "$dir/report.out"; fail "--report into a missing directory: exit $rc"; }
nothing_left "--report"

# Held and let go without a signal: the run goes on and is recorded.
held go - --audit-repo "$dir/audit"
[ "$rc" = 0 ] && [ -e "$dir/ran" ] || { cat "$dir/go.out"; fail "a held run let go: exit $rc"; }
grep -q 'ready in .*(a copy of the cached template' "$dir/go.out" || { cat "$dir/go.out"; fail "the run did not say its server was ready"; }
[ -n "$(git -C "$dir/audit" for-each-ref)" ] || fail "the held run let go was not recorded"
rm -f "$dir/ran"
[ -z "$(ls -A "$dir/tmp")" ] || { ls -la "$dir/tmp"; fail "a held run let go left its directory"; }

# kill -9 with the server up: an orphan, reaped by the next run.
held kill9 KILL --no-audit
[ "$rc" = 137 ] || fail "kill -9: exit $rc"
[ -n "$(ls -A "$dir/tmp")" ] || fail "kill -9 left nothing to reap (was the server up?)"
"$bin" run --no-audit --ephemeral-db "$dir/mark.md" > "$dir/after.out" 2>&1 || { cat "$dir/after.out"; fail "the run after kill -9"; }
grep -q 'removed the throwaway PostgreSQL left in .* which is gone (server pid [0-9]*, stopped)' "$dir/after.out" || { cat "$dir/after.out"; fail "the next run did not reap the orphan"; }
rm -f "$dir/ran"
nothing_left "the run after kill -9"
echo "pg-start-overlap ok"
