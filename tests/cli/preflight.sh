#!/usr/bin/env bash
# Pre-flight: nothing runs until every offline check passes. A run refused
# before step 1 (pre-flight error, unknown --from, bad --set) is not
# recorded and never becomes the run --resume continues.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
audit=$dir/audit
ref() { git --git-dir="$audit" rev-parse -q --verify refs/heads/runbook-audit || echo none; }
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

# A recorded run first, so "unchanged" means something.
printf '# Ok\n\n```bash\necho fine\n```\n' > ok.md
"$bin" run --audit-repo "$audit" ok.md > out 2> err || fail "ok.md should run"
before=$(ref)
[ "$before" != none ] || fail "no audit ref after a run"

# 1. Step 1 changes something, step 2 has a bash syntax error: nothing runs.
cat > syntax.md <<'MD'
# Syntax

```bash {name=marker}
touch marker
```

```bash {name=broken}
if true; then
  echo "no fi"
```
MD
rc=0; "$bin" run --audit-repo "$audit" syntax.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "bash syntax error: expected exit 2, got $rc"
[ ! -e marker ] || fail "step 1 ran although step 2 cannot"
grep -q '^syntax.md:1[01]:1: error: shell syntax: ' err || fail "the error does not name step 2's line"
grep -q 'nothing was run' err || fail "no summary line"
[ "$(ref)" = "$before" ] || fail "a refused run was recorded"
[ ! -s out ] || fail "a refused run printed a run header"

# 2. A Lua compile error in an abort condition is an invalid runbook (2), not a fired abort (4).
cat > abort.md <<'MD'
# Abort

```bash
touch marker
```

```lua abort {name=watch}
return x ==
```

```bash
echo later
```
MD
rc=0; "$bin" run --audit-repo "$audit" abort.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "abort compile error: expected exit 2, got $rc"
[ ! -e marker ] || fail "ran before the broken abort condition"
grep -q '^abort.md:[89]:.*error: the abort condition does not compile' err || fail "abort: no position"

# 3. The same for when=.
cat > when.md <<'MD'
# When

```bash
touch marker
```

```bash {when="vars.X =="}
echo guarded
```
MD
rc=0; "$bin" run --audit-repo "$audit" when.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "when= compile error: expected exit 2, got $rc"
[ ! -e marker ] || fail "ran before the broken when="
grep -q '^when.md:7:[0-9]*: error: when= does not compile' err || fail "when=: no position"
[ "$(ref)" = "$before" ] || fail "a refused run was recorded"

# 4. --no-preflight runs what it can, fails at run time, and the record says so.
rc=0; "$bin" run --audit-repo "$audit" --no-preflight syntax.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "--no-preflight: expected the run to fail at step 2 (1), got $rc"
[ -e marker ] || fail "--no-preflight: step 1 did not run"
rm -f marker
git --git-dir="$audit" show refs/heads/runbook-audit --stat >/dev/null
rec=$(git --git-dir="$audit" ls-tree -r --name-only refs/heads/runbook-audit | grep syntax | grep record.md | tail -1)
git --git-dir="$audit" show "refs/heads/runbook-audit:$rec" | grep -q 'pre-flight checks skipped (--no-preflight)' \
  || fail "--no-preflight is not in the record"
after_np=$(ref)

# 5. An unknown --from and a bad --set are not runs: the ref does not move and
#    --resume still continues the failed run, not the refused one.
rc=0; "$bin" run --audit-repo "$audit" --from no-such-step syntax.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "--from no-such-step: expected exit 2, got $rc"
grep -q "no step with id 'no-such-step'" err || fail "--from: no message"
rc=0; "$bin" run --audit-repo "$audit" --set 1BAD=x ok.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "bad --set: expected exit 2, got $rc"
[ "$(ref)" = "$after_np" ] || fail "a usage error was recorded"
printf '# Resume me\n\n```bash {name=a}\necho a\n```\n\n```bash {name=b}\ntest -e fixed\n```\n' > resume.md
rc=0; "$bin" run --audit-repo "$audit" resume.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "resume.md should fail at b"
rc=0; "$bin" run --audit-repo "$audit" --from nowhere resume.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "--from nowhere: expected 2"
touch fixed
"$bin" run --audit-repo "$audit" --resume resume.md > out 2> err || fail "--resume after a refused run failed"
grep -q "at step 'b'" out || fail "--resume did not continue the failed run at b"

# 6. Warnings are printed and do not block; variables from --set and the
#    environment count as defined for SQL (checked on a throwaway server).
cat > warn.md <<'MD'
# Warn

```bash
mkdir -p junk && rm -rf junk
```

```sql
SELECT :'FROM_SET' AS a, :'FROM_ENV' AS b;
```
MD
rc=0; FROM_ENV=e "$bin" run --audit-repo "$audit" --ephemeral-db --set FROM_SET=s warn.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "warnings blocked the run ($rc)"
grep -q 'warning: destructive command (rm -rf)' err || fail "the warning was not printed"
grep -q ' s | e' out || fail "the SQL step did not see its variables"
rc=0; "$bin" run --audit-repo "$audit" --ephemeral-db warn.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "an undefined psql variable should be refused before the run, got $rc"
grep -q "undefined variable :'FROM_SET'\|undefined variable :FROM_SET" err || fail "undefined variable not named"
grep -q 'Starting a throwaway PostgreSQL\|initdb' out && fail "a server was started for a refused run"
echo "pre-flight refuses before step 1 and records nothing"
