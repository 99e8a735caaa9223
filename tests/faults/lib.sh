# Shared by the fault scenarios: a real PostgreSQL server the harness owns
# (initdb + pg_ctl, a private Unix socket, as `postgres` when run as root),
# so a scenario can stop, kill and restart it under a running runbook.
#   fault_setup            scratch dir $work, server up, $url to reach it
#   pg ARGS...             pg_ctl (or any server binary) as the server's user
#   q SQL                  one value from the server (psql -XAt)
#   fail MESSAGE           print the scenario's output and exit 1
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO

fault_setup() {
  work=$(mktemp -d)
  chmod 755 "$work"
  export RUNBOOK_AUDIT_REPO=$work/audit
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$bindir/pg_ctl" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)"; exit 1; }
  sock=$work/sock
  data=$work/data
  mkdir -p "$sock" "$data" "$work/log"
  owner=
  if [ "$(id -u)" = 0 ]; then owner=postgres; chown postgres "$sock" "$data" "$work/log"; fi
  pg "$bindir/initdb" -D "$data" -U postgres -A trust --no-sync >/dev/null
  start_server
  url="postgresql://postgres@/postgres?host=$sock"
  trap fault_cleanup EXIT
}

pg() {
  if [ -n "$owner" ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

start_server() {
  pg "$bindir/pg_ctl" -D "$data" -l "$work/log/server.log" -w -o "-k $sock -c listen_addresses= -c fsync=off" start >/dev/null
}

stop_server() { # stop_server MODE
  pg "$bindir/pg_ctl" -D "$data" -m "$1" -w stop >/dev/null 2>&1 || true
}

fault_cleanup() {
  stop_server immediate
  pkill -f "sleep 4[0-9][0-9]\.$$" 2>/dev/null || true
  rm -rf "$work"
}

q() { psql "$url" -XAtc "$1"; }

fail() {
  echo "$*"
  for f in out err out1 err1 out2 err2; do
    [ -f "$work/$f" ] && { echo "--- $f"; cat "$work/$f"; }
  done
  exit 1
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
