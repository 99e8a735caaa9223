#!/usr/bin/env bash
# `runbook check` on a runbook written for other tools too: their front
# matter keys (Hugo's weight) are warnings that say they are ignored
# (Runme's runme: is known: no warning), so check passes without --strict
# and a run goes ahead; a typo of
# a runbook key stays an error with "did you mean". A fence never closed and
# a block whose language only looks executable are warnings at the fence.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

cat > hugo.md <<'MD'
---
title: Rotate the logs
weight: 20
runme:
  id: 01HXYZ
---
# Rotate the logs

```bash {name=rotate}
echo rotated
```
MD

rc=0; "$bin" check hugo.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "check without --strict: expected exit 0, got $rc"
grep -qxF "hugo.md:3:1: warning: unknown front matter key 'weight': ignored (it belongs to Hugo)" out ||
  fail "no warning naming Hugo"
grep -q "runme" out && fail "a warning about Runme's runme: key"
grep -qxF "0 errors, 1 warning" out || fail "wrong summary"

rc=0; "$bin" check --strict hugo.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "check --strict: expected exit 1 for warnings, got $rc"

rc=0; "$bin" run --yes hugo.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "run with other tools' keys: expected exit 0, got $rc"
grep -q "rotated" out || fail "the step did not run"

sed 's/^title:/titel:/' hugo.md > typo.md
rc=0; "$bin" check typo.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "typo: expected exit 2, got $rc"
grep -qxF "typo.md:2:1: error: unknown front matter key 'titel' (did you mean 'title'?)" out ||
  fail "no did-you-mean for titel"

printf '# Clean\n\n```postgres\nDELETE FROM orders;\n```\n\n```bash {name=a}\necho a\n\n## Later\n' > fences.md
rc=0; "$bin" check fences.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "fences: expected exit 0 (warnings), got $rc"
grep -qxF "fences.md:3:4: warning: the block is documentation: its language 'postgres' is not one runbook runs (did you mean 'sql'?); it would be destructive if it ran (DELETE without WHERE at line 4)" out ||
  fail "no warning about the postgres block"
grep -qF "fences.md:7:1: warning: this fence is never closed: everything after it, 1 heading and 0 blocks, is inside it" out ||
  fail "no warning about the unclosed fence"
echo ok
