#!/usr/bin/env bash
# SIGINT, SIGTERM and SIGHUP stop the running step's whole process group and exit
# 128 + the signal's number, as a shell reports it: 130, 143, 129.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cat > "$dir/r.md" <<'MD'
# Interrupt me

```bash
echo started
sleep 1011 & sleep 1012
```

```bash
echo never
```
MD
for sig in INT TERM HUP; do
  want=$((128 + $(kill -l "$sig")))
  "$bin" run "$dir/r.md" > "$dir/out" 2>&1 &
  pid=$!
  for _ in $(seq 50); do grep -q started "$dir/out" && break; sleep 0.1; done
  kill -s "$sig" "$pid"
  rc=0; wait "$pid" || rc=$?
  if [ "$rc" != "$want" ]; then echo "SIG$sig: expected exit $want, got $rc"; cat "$dir/out"; exit 1; fi
  sleep 0.2
  if pgrep -f 'sleep 101[12]' >/dev/null; then echo "SIG$sig: processes left behind"; exit 1; fi
  if grep -q never "$dir/out"; then echo "SIG$sig: ran the next step"; exit 1; fi
  grep -q interrupted "$dir/out"
done
echo "interrupts stop the step and exit 128+signal"

# Ctrl-C during a SQL statement cancels it, stops the throwaway server and removes it.
mkdir -m 755 "$dir/tmp"
printf '# SQL\n\n```sql\nSELECT 1 AS started;\nSELECT pg_sleep(60);\n```\n' > "$dir/s.md"
TMPDIR=$dir/tmp "$bin" run --ephemeral-db "$dir/s.md" > "$dir/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '(1 row)' "$dir/out" && break; sleep 0.1; done
sleep 0.3
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || { echo "sql: expected exit 130, got $rc"; cat "$dir/out"; exit 1; }
[ -z "$(ls -A "$dir/tmp")" ] || { echo "sql: server directory left behind"; exit 1; }
echo "an interrupted SQL step is cancelled and the server removed"
