#!/usr/bin/env bash
# --ephemeral-db: a missing server is one clear line and exit 5; --keep-db keeps
# it and says how to connect; the server runs for root and for ordinary users;
# the directory is gone afterwards; a DSN's password is never printed.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
printf '# T\n\n```sql {capture=N}\nSELECT 41 + 1;\n```\n\n```bash\necho "answer=$N user=$PGUSER"\n```\n' > "$dir/r.md"
chmod 644 "$dir/r.md"

# Missing server binaries.
rc=0; out=$(RUNBOOK_PG_BINDIR=/nonexistent "$bin" run --ephemeral-db "$dir/r.md" 2>&1) || rc=$?
[ "$rc" = 5 ] || { echo "missing server: expected exit 5, got $rc"; echo "$out"; exit 1; }
grep -q "PostgreSQL server binaries not found (looked in /nonexistent); install the Debian package 'postgresql'" <<< "$(echo "$out")"

# A normal run leaves no directory behind.
mkdir -m 755 "$dir/tmp"
TMPDIR=$dir/tmp "$bin" run --ephemeral-db "$dir/r.md" > "$dir/out"
grep -q '^answer=42 ' "$dir/out"
[ -z "$(ls -A "$dir/tmp")" ] || { echo "server directory left behind:"; ls -la "$dir/tmp"; exit 1; }

# --keep-db keeps it, says how to connect, and it answers.
"$bin" run --ephemeral-db --keep-db "$dir/r.md" > "$dir/keep"
kept_server "$dir/keep" || { echo "--keep-db did not say how to connect"; cat "$dir/keep"; exit 1; }
[ "$(psql -XAtc 'select 1' "$url")" = 1 ]
kill "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rm -rf "$srv"

# As root the server runs as postgres; as an ordinary user, as that user.
if [ "$(id -u)" = 0 ]; then
  grep -q 'user=postgres$' "$dir/out"
  if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp "$bin" run --no-audit --ephemeral-db "$dir/r.md" > "$dir/nobody"
    grep -q '^answer=42 user=nobody$' "$dir/nobody"
  fi
fi

# A DSN's password never reaches the terminal.
rc=0; out=$("$bin" run --db 'postgresql://someone:hunter2secret@/nodb?host=/nonexistent' "$dir/r.md" 2>&1) || rc=$?
[ "$rc" = 5 ] || { echo "unreachable database: expected exit 5, got $rc"; exit 1; }
grep -q 'someone:\*\*\*@' <<< "$(echo "$out")"
if echo "$out" | grep -q hunter2secret; then echo "password printed"; exit 1; fi
echo "ephemeral ok"
