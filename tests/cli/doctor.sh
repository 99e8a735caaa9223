#!/usr/bin/env bash
# runbook doctor [FILE]: on a healthy set-up (an audit repository, a
# runbook whose database is a running throwaway server, its tools and
# secret there) every line is ok and the exit is 0, --json an array; a
# stale lock file on the audit ref, an unreachable database, a missing
# tool and a secret whose source fails are each named with a fix, exit 5,
# the secret's value never shown.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/kept.sh"
unset RUNBOOK_AUDIT_REPO RUNBOOK_AUDIT_REMOTE
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
srv=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; sleep 0.3; rm -rf "$dir" ${srv:+"$srv"}' EXIT
cd "$dir"
export TMPDIR=$dir/tmp
mkdir -m 755 "$TMPDIR"
fail() { echo "doctor: $*"; exit 1; }
printf '# start\n\n```sql\nSELECT 1;\n```\n' > start.md
"$bin" run --ephemeral-db --keep-db --no-audit start.md > start.out 2>&1
kept_server start.out || { cat start.out; fail "no throwaway server"; }
git init -q repo
printf 'doctor-s3cr3t-8\n' > repo/key
chmod 600 repo/key
cat > repo/d.md <<MD
---
database: "$url"
requires: {tools: [bash]}
secrets:
  API_KEY: {file: key}
---
# Doc

\`\`\`sql
SELECT 1;
\`\`\`
MD
"$bin" run repo/d.md > first.out 2>&1 || { cat first.out; fail "a first run"; }
rc=0; "$bin" doctor repo/d.md > ok.out 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q '^All is well' ok.out || { cat ok.out; fail "a healthy set-up: exit $rc"; }
for check in libraries 'audit repository' 'audit writable' 'audit ref lock' 'audit ref' 'database (default)' \
             'tool bash' 'secret API_KEY' terminal; do
  grep -q "^ok   $check " ok.out || { cat ok.out; fail "no ok line for $check"; }
done
grep -q 'PostgreSQL [0-9]*\.[0-9]*, application_name visible in pg_stat_activity' ok.out || { cat ok.out; fail "the database line"; }
! grep -q doctor-s3cr3t ok.out || fail "a secret was shown"
"$bin" doctor repo/d.md --json > ok.json
python3 -c 'import json,sys; a = json.load(open(sys.argv[1])); assert all(c["ok"] for c in a) and len(a) >= 9, a' ok.json ||
  fail "--json"
# A lock file left on the audit ref (older than 5 s).
touch -d '-1 minute' repo/.git/refs/heads/runbook-audit.lock
rc=0; "$bin" doctor repo/d.md > lock.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q '^FAIL audit ref lock .*runbook-audit.lock.* -> remove the lock file if no git process is running' lock.out ||
  { cat lock.out; fail "a stale lock: exit $rc"; }
rm repo/.git/refs/heads/runbook-audit.lock
# A database nobody listens on (a loopback port refused at once), a tool missing, a secret's file others can read.
sed -i 's/tools: \[bash\]/tools: [bash, no-such-tool-xyz]/' repo/d.md
chmod 644 repo/key
rc=0; "$bin" doctor repo/d.md --db "postgresql://doctor@127.0.0.1:1/x" > bad.out 2>&1 || rc=$?
[ "$rc" = 5 ] || { cat bad.out; fail "problems: exit $rc"; }
grep -q '^FAIL database (default)  *postgresql://doctor@127.0.0.1:1/x: .* -> check the host' bad.out || { cat bad.out; fail "the unreachable database"; }
grep -q '^FAIL tool no-such-tool-xyz ' bad.out || { cat bad.out; fail "the missing tool"; }
grep -q '^FAIL secret API_KEY .*readable by others' bad.out || { cat bad.out; fail "the secret's source"; }
! grep -q doctor-s3cr3t bad.out || fail "a secret was shown"
echo "doctor ok"
