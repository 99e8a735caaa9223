#!/usr/bin/env bash
# --resume sees an edit to a SQL file the runbook pulls in with \i (or a
# nested \ir) as it sees an edit to the runbook: refused with exit 2,
# naming the files, unless --force. The record keeps the files' hash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../faults/lib.sh"
fault_setup
cd "$work"
audit=$work/audit
mkdir -p sql/nested
echo "CREATE TABLE IF NOT EXISTS included (x int); \ir nested/more.sql" > sql/main.sql
echo "INSERT INTO included VALUES (1);" > sql/nested/more.sql
cat > inc.md <<'MD'
# Includes

```sql {name=apply}
\i sql/main.sql
```

```bash {name=check}
test -e FIXED
```
MD
run() { # run EXPECTED-EXIT ARGS...
  local want=$1 rc=0; shift
  "$bin" run inc.md --db "$url" --audit-repo "$audit" "$@" > out 2> err || rc=$?
  [ "$rc" = "$want" ] || fail "run $*: expected exit $want, got $rc"
}
run 1
id=$(git -C "$audit" log -1 --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | sed '/^$/d')
git -C "$audit" show "refs/heads/runbook-audit:runs/${id:0:4}/${id:4:2}/${id:6:2}/${id:9}/record.json" |
  grep -q '"includes": "[0-9a-f]\{40\}"' || fail "the record does not keep the included files' hash"
# Nothing edited: the resume runs (and fails again at check).
run 1 --resume
grep -q "^Resuming run $id at step 'check'" out || fail "an unedited resume did not resume"
# An edit to a nested included file: refused.
echo "INSERT INTO included VALUES (2);" > sql/nested/more.sql
touch FIXED
run 2 --resume
grep -q "the files the runbook includes (\\\\i, \\\\ir) changed since run" err || fail "the refusal does not say why"
# --force resumes (and says what it overrides).
run 0 --resume --force
grep -q "files the runbook includes" err || fail "--force does not say what it overrides"
echo "resume-includes: ok"
