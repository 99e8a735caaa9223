#!/usr/bin/env bash
# The SQL lint rules (interpreter/sqlrules.c): --list-rules names each rule
# once, each has its fixture under tests/check/rule-NAME and a row in
# docs/format.md; allow= silences a rule on its step, is shown by plan (text
# and JSON) and kept in the audit record of a run (--ephemeral-db).
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$bin" check --list-rules > "$dir/rules"
[ "$(wc -l < "$dir/rules")" -ge 20 ] || { echo "too few rules"; cat "$dir/rules"; exit 1; }
while read -r name summary; do
  [ -n "$summary" ] || { echo "rule $name has no summary"; exit 1; }
  [ -f "$src/tests/check/rule-$name/runbook.md" ] || { echo "rule $name has no fixture tests/check/rule-$name"; exit 1; }
  grep -q "^| \`$name\` |" "$src/docs/format.md" || { echo "rule $name is not in docs/format.md's table"; exit 1; }
done < "$dir/rules"
[ "$(cut -d' ' -f1 "$dir/rules" | sort | uniq -d)" = "" ]

cd "$dir"
git init -q repo
cd repo
git config user.name "Ops Person"
git config user.email ops@example.com
cat > migrate.md <<'MD'
---
title: Migrate
---
# Migrate

```sql {name=setup}
CREATE TABLE orders (id int, created_at timestamptz);
```

```sql {name=later}
SELECT 1;
```

```sql {name=index allow=create-index-not-concurrently,rename}
CREATE INDEX orders_created ON orders (created_at);
```
MD
git add migrate.md
git commit -qm "add runbook"

# The table is new in this runbook: no finding; on an existing table, one,
# silenced by allow=.
"$bin" check --strict migrate.md
sed 's/CREATE TABLE orders/CREATE TABLE other/' migrate.md > existing.md
"$bin" check --strict existing.md
sed 's/ allow=create-index-not-concurrently,rename//' existing.md > unallowed.md
rc=0; "$bin" check --strict unallowed.md > out || rc=$?
[ "$rc" = 1 ] || { echo "expected exit 1 under --strict, got $rc"; cat out; exit 1; }
grep -q '^unallowed.md:15:1: warning: CREATE INDEX without CONCURRENTLY .*\[create-index-not-concurrently\]$' out
# A name that is no rule is an error at the name.
sed 's/,rename/,renam/' existing.md > typo.md
rc=0; "$bin" check typo.md > out || rc=$?
[ "$rc" = 2 ] || { echo "expected exit 2, got $rc"; cat out; exit 1; }
grep -q "^typo.md:14:56: error: allow=: no lint rule 'renam'" out

"$bin" plan migrate.md > plan.txt
grep -qx '      lint rules allowed here: create-index-not-concurrently,rename' plan.txt
"$bin" plan --json migrate.md | python3 -c '
import json, sys
steps = {s["id"]: s for s in json.load(sys.stdin)["steps"]}
assert steps["index"]["allow"] == ["create-index-not-concurrently", "rename"], steps["index"]
assert "allow" not in steps["setup"], steps["setup"]'

"$bin" run --ephemeral-db --yes migrate.md > out 2>&1 || { cat out; exit 1; }
files=$(git ls-tree -r --name-only refs/heads/runbook-audit)
git show "refs/heads/runbook-audit:$(grep '/record.json$' <<< "$files")" | python3 -c '
import json, sys
steps = {s["id"]: s for s in json.load(sys.stdin)["steps"]}
assert steps["index"]["allow"] == "create-index-not-concurrently,rename", steps["index"]
assert "allow" not in steps["setup"], steps["setup"]'
echo "sqlrules: ok"
