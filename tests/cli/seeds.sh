#!/usr/bin/env bash
# The seed procedures plan as written: every bash block is a step, in order,
# with its line; other blocks are documentation. Skipped when the seeds are
# not beside the repository.
set -euo pipefail
bin=$1
seeds=${RB_SEEDS_DIR:-}
if [ -z "$seeds" ] || [ ! -d "$seeds" ]; then
  echo "seeds not present: skipped"
  exit 0
fi
# file  shell-steps  approvals  documentation  runnable-main
expect() {
  local f=$seeds/$1
  local got
  got=$("$bin" plan --json "$f" | python3 -c '
import json, sys
d = json.load(sys.stdin)
k = [s["kind"] for s in d["steps"]]
print(k.count("shell"), k.count("approval"), k.count("doc"), d["counts"]["main"])')
  if [ "$got" != "$2 $3 $4 $5" ]; then
    echo "$1: expected '$2 $3 $4 $5', got '$got'"; exit 1
  fi
  # Every ```bash fence of the file is a shell step at its own line, in order.
  local fences steps
  fences=$(grep -nE '^[[:space:]]*```bash' "$f" | cut -d: -f1 | tr '\n' ' ')
  steps=$("$bin" plan --json "$f" | python3 -c '
import json, sys
print(" ".join(str(s["line"]) for s in json.load(sys.stdin)["steps"] if s["kind"] == "shell"), end=" ")')
  if [ "$fences" != "$steps" ]; then
    echo "$1: bash fences at lines '$fences' but shell steps at '$steps'"; exit 1
  fi
  "$bin" plan "$f" >/dev/null
}
expect ehg-direct-to-production.md 7 3 0 10
expect ehg-housekeeping-workflows.md 3 0 0 3
expect ehg-production-promotion.md 10 5 2 15
expect ehg-staging-one-pager.md 7 0 0 7
expect signal-harvester-staging-deploy.md 10 0 0 10
# The javascript block and the unlabeled block of the promotion are documentation.
grep -q '\[-\] doc (javascript)  .*:195  (documentation, not run)' <<< "$("$bin" plan "$seeds/ehg-production-promotion.md")"
grep -q '\[-\] doc  .*:260  (documentation, not run)' <<< "$("$bin" plan "$seeds/ehg-production-promotion.md")"
echo "seeds plan as written"
