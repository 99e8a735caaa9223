#!/usr/bin/env bash
# A secret stays secret whatever sets it: --set, a capture=, Lua vars.X = …,
# \set in a SQL block. None of its values reaches the terminal, later steps'
# output, the journal, or any object of the audit ref.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

cat > secrets.md <<'MD'
---
title: Rotate
secrets: [DB_PASS]
---
# Rotate

```bash {name=old}
echo "old: $DB_PASS"
```

The new password is generated and captured: its output is held back.

```bash {name=rotate capture=DB_PASS}
echo "  capture-value-B7  "
echo "to stderr: capture-value-B7" >&2
```

```bash {name=after-capture}
echo "captured: $DB_PASS"
printf '%s\n' "$DB_PASS" > seen-capture
```

```lua {name=from-lua}
vars.DB_PASS = "lua-value-C9"
log("lua set " .. vars.DB_PASS)
```

```bash {name=after-lua}
echo "lua: $DB_PASS"
printf '%s\n' "$DB_PASS" > seen-lua
```

```sql {name=psql-set}
\set DB_PASS 'sql-value-D4'
SELECT :'DB_PASS' AS from_set;
```

```bash {name=after-sql}
echo "sql: $DB_PASS"
```

```bash {name=fails}
echo "failing with $DB_PASS" >&2
exit 3
```
MD
rc=0; "$bin" run --audit-repo "$audit" --ephemeral-db --set DB_PASS=set-value-A1 secrets.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "expected the last step to fail (1), got $rc"
# The steps really had the values (so the test is not vacuous).
[ "$(cat seen-capture)" = capture-value-B7 ] || fail "the capture did not set DB_PASS"
[ "$(cat seen-lua)" = lua-value-C9 ] || fail "Lua did not set DB_PASS"
grep -qx 'old: \*\*\*' out || fail "the --set value was not redacted"
grep -qx '  \*\*\*  ' out || fail "the held-back capture output was not shown redacted"
grep -qx 'to stderr: \*\*\*' err || fail "the held-back stderr was not shown redacted"
grep -qx 'captured: \*\*\*' out || fail "the captured value was not redacted"
grep -qx 'lua: \*\*\*' out || fail "the Lua value was not redacted"
grep -q ' \*\*\*$' <(grep -A3 from_set out) || fail "the \\set value was not redacted"
grep -qx 'sql: \*\*\*' out || fail "the \\set value was not redacted in a later step"
objects() { git --git-dir="$audit" cat-file --batch-all-objects --batch > objects.txt; }
objects
for v in set-value-A1 capture-value-B7 lua-value-C9 sql-value-D4; do
  grep -q "$v" out err && fail "$v reached the terminal"
  grep -aq "$v" objects.txt && fail "$v reached a git object"
  if grep -rq "$v" "$audit"; then fail "$v is somewhere in the audit repository"; fi
done
# The record exists and has the steps (so the search above looked at something).
grep -aq 'after-lua' objects.txt || fail "no record found"

# A kill -9 mid-run leaves the journal; recovery commits it: still redacted.
# (The value is made by the step, not written in the document: the record
# keeps the document as it is, runbook.md, and a literal there is no secret.)
cat > killed.md <<'MD'
---
secrets: [DB_PASS]
---
# Killed

```bash {name=rotate capture=DB_PASS}
printf 'kill-value-%s\n' E5
```

```bash {name=wait}
echo "waiting with $DB_PASS"
sleep 1030
```
MD
"$bin" run --audit-repo "$audit" killed.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -q 'waiting with' out && break; sleep 0.05; done
grep -q 'waiting with \*\*\*' out || fail "kill: value not redacted before the kill"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
pkill -f "sleep 103[0]" || true
grep -rq kill-value-E5 "$audit" && fail "the journal holds the captured secret"
"$bin" run --audit-repo "$audit" --no-preflight --only wait killed.md > /dev/null 2>&1 &
sleep 1; kill -TERM $! 2>/dev/null || true; wait $! 2>/dev/null || true
pkill -f "sleep 103[0]" || true
objects
grep -aq 'interrupted' objects.txt || fail "the killed run was not recovered"
grep -aq kill-value-E5 objects.txt && fail "recovered record holds the secret"
# not_secret: a flag whose name looks secret is shown; secrets: wins over it;
# a secret-looking name not listed stays hidden.
cat > flags.md <<'MD'
---
secrets: [BOTH_PASSWORD]
not_secret: [ROTATE_PASSWORDS, BOTH_PASSWORD]
---
# Flags

```bash {name=show}
echo "rotate=$ROTATE_PASSWORDS both=$BOTH_PASSWORD other=$OTHER_PASSWORD"
```
MD
"$bin" run --no-audit --set ROTATE_PASSWORDS=yes-rotate --set BOTH_PASSWORD=both-value-Q1 \
  --set OTHER_PASSWORD=other-value-Q2 flags.md > out 2> err || fail "not_secret run failed"
grep -qx 'rotate=yes-rotate both=\*\*\* other=\*\*\*' out || fail "not_secret: wrong redaction"
echo "secrets stay secret whatever sets them"
