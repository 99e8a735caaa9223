#!/usr/bin/env bash
# Authoring: new scaffolds pass check --strict and run; every shipped runbook
# is clean under check --strict; check --json is JSON; docs/format.md names
# every attribute and front matter key the parser accepts.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
for t in basic sql promotion; do
  "$bin" new --template "$t" "$dir/$t.md" > /dev/null
  "$bin" check --strict "$dir/$t.md"
done
"$bin" run --ephemeral-db --yes --no-audit "$dir/basic.md" > "$dir/out"
grep -q '^Done: 5 ok, 0 failed' "$dir/out"
# The promotion template teaches undo: its change has one, shown by the plan, and it runs.
"$bin" plan "$dir/promotion.md" > "$dir/out"
grep -q "^      undo: promote.undo  sql  " "$dir/out" || { echo "promotion template: no undo"; exit 1; }
"$bin" run --ephemeral-db --yes --confirm PROMOTE --set TICKET=CHG-1 --set WINDOW_OVERRIDE=test --no-audit "$dir/promotion.md" > "$dir/out"
grep -q '^Done: 8 ok, 0 failed' "$dir/out"
rc=0; "$bin" new "$dir/basic.md" 2> "$dir/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'never overwrites' "$dir/err"
rc=0; "$bin" new --template nope "$dir/nope.md" 2> /dev/null || rc=$?
[ "$rc" = 2 ]

for f in "$src"/runbooks/*.md "$src"/examples/*.md; do
  "$bin" check --strict "$f" > "$dir/check" || { echo "not clean: $f"; cat "$dir/check"; exit 1; }
done

"$bin" check --json "$src/tests/check/acceptance/runbook.md" > "$dir/json" || true
python3 - "$dir/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [(x["line"], x["col"]) for x in d] == [(2, 13), (6, 10), (13, 1), (17, 8)], d
assert all(x["severity"] == "error" for x in d)
PY

# --db trial-runs SQL blocks in a rolled-back transaction and reports the server's errors.
printf '# T\n\n```sql {name=make}\nCREATE TABLE t (x int);\nSELECT x FROM t;\nSELECT y FROM nowhere;\n```\n' > "$dir/db.md"
"$bin" run --yes --ephemeral-db --keep-db --no-audit "$dir/basic.md" > "$dir/keep"
kept_server "$dir/keep" || { cat "$dir/keep"; exit 1; }
rc=0; "$bin" check --db "$url" "$dir/db.md" > "$dir/dbcheck" 2>&1 || rc=$?
[ "$(psql -XAtc "select to_regclass('t') is null" "$url")" = t ] || { kill "$pid"; echo "check --db left a table behind"; exit 1; }
kill "$pid"; sleep 0.3; rm -rf "$srv"
[ "$rc" = 2 ] && grep -q 'db.md:6:1: error: on the database: ERROR 42P01: relation "nowhere" does not exist' "$dir/dbcheck" \
  || { echo "check --db: rc=$rc"; cat "$dir/dbcheck"; exit 1; }

# shellcheck findings land on runbook lines, when shellcheck is installed.
if command -v shellcheck > /dev/null; then
  printf '# T\n\nProse.\n\n```bash\necho ok\ncd $SOMEWHERE\n```\n' > "$dir/sc.md"
  "$bin" check "$dir/sc.md" > "$dir/sc" || true
  grep -q 'sc.md:7:4: warning: shellcheck: .*SC2086' "$dir/sc" || { echo "shellcheck mapping:"; cat "$dir/sc"; exit 1; }
fi

# The reference documents everything the parser accepts.
doc=$src/docs/format.md
for key in $("$bin" --list-keys); do
  grep -q "\`$key\`" "$doc" || { echo "docs/format.md does not document '$key'"; exit 1; }
done
# ... and nothing it documents as an attribute is rejected.
keys=$("$bin" --list-keys)
documented=$(awk '/^## 4. Attributes/{on=1} /^## 5/{on=0} on && /^\| `[a-z_]+` \|/' "$doc" | sed 's/^| `\([a-z_]*\)`.*/\1/')
[ -n "$documented" ]
for a in $documented; do
  grep -qx "$a" <<< "$keys" || { echo "docs/format.md documents '$a', which the parser rejects"; exit 1; }
done
echo "authoring ok"
