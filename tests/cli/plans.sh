#!/usr/bin/env bash
# Every runbook the project ships plans cleanly.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
n=0
for f in "$src"/runbooks/*.md "$src"/examples/*.md; do
  "$bin" plan "$f" > /dev/null || { echo "plan failed: $f"; exit 1; }
  "$bin" plan --json "$f" | python3 -c 'import json,sys; json.load(sys.stdin)'
  n=$((n + 1))
done
[ "$n" -ge 6 ]
echo "$n runbooks plan"
