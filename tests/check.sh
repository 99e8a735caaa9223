#!/usr/bin/env bash
# Check golden test: runbook.md in, `runbook check` output and exit code out.
#   expected       the exact output of `runbook check runbook.md`
#   expected.exit  its exit code
# RB_GOLDEN_UPDATE=1 rewrites both from the current output.
set -u
bin=$1
cd "$2" || exit 1
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
"$bin" check --strict runbook.md > "$actual" 2>&1
rc=$?
if [ "${RB_GOLDEN_UPDATE:-}" = 1 ]; then cp "$actual" expected; echo "$rc" > expected.exit; fi
status=0
diff -u expected "$actual" || status=1
[ "$rc" = "$(cat expected.exit)" ] || { echo "exit: expected $(cat expected.exit), got $rc"; status=1; }
exit "$status"
