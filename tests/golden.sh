#!/usr/bin/env bash
# Golden test: one directory per case.
#   runbook.md            the input
#   plan.json             expected `runbook plan --json runbook.md`, or
#   error                 expected stderr of `runbook plan runbook.md` (exit 2)
# Set RB_GOLDEN_UPDATE=1 to rewrite the expected files from the current output.
set -u
bin=$1
dir=$2
cd "$dir" || exit 1
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
if [ -f error ]; then
  "$bin" plan runbook.md >/dev/null 2>"$actual"
  rc=$?
  expected=error
  if [ "$rc" -ne 2 ]; then
    echo "expected exit 2, got $rc"; cat "$actual"; exit 1
  fi
else
  "$bin" plan --json --audit-repo AUDIT runbook.md >"$actual"
  rc=$?
  expected=plan.json
  if [ "$rc" -ne 0 ]; then
    echo "plan failed with exit $rc"; exit 1
  fi
fi
if [ "${RB_GOLDEN_UPDATE:-}" = 1 ]; then
  cp "$actual" "$expected"
fi
diff -u "$expected" "$actual"
