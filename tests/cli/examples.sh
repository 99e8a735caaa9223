#!/usr/bin/env bash
# Every example runs and does what its prose says.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cp -R "$src/examples" "$src/lua" "$dir/"
cd "$dir/examples"
export RUNBOOK_AUDIT_REPO=$dir/audit
run() { # run EXPECTED-EXIT FILE ARGS...
  local want=$1 f=$2 rc=0; shift 2
  "$bin" run "$@" "$f" > "$dir/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { echo "$f: expected exit $want, got $rc"; cat "$dir/out"; exit 1; }
}
run 0 hello.md
grep -q '^This machine runs ' "$dir/out"
run 0 variables-and-captures.md --set RELEASE=2.0.1
grep -qx 'deploying 2.0.1 to staging' "$dir/out"
grep -qx 'major version 2' "$dir/out"
grep -q '^artifact: app-2.0.1-' "$dir/out"
run 0 sql-transactions.md --ephemeral-db
grep -q "step 'overdraw': ERROR 23514" "$dir/out"
grep -qx ' balance_of_account_2 ' "$dir/out" # psql's header line ends with a space
run 0 gates.md
run 3 gates.md --set MIN_FREE_MB=999999999
grep -q "step 'disk-space': gate closed: .* MiB free here, 999999999 needed" "$dir/out"
run 3 approvals.md
run 0 approvals.md --yes --confirm "SHIP IT"
grep -qx shipped "$dir/out"
run 4 abort-and-rollback.md
grep -q 'rolling back after long-work (stop-file fired): someone created the STOP file' "$dir/out"
! grep -q 'never printed' "$dir/out"
[ ! -e state.txt ]
run 0 retries-and-timeouts.md
grep -qx 'attempt 3' "$dir/out"
grep -q 'timed out after' "$dir/out"
run 1 resume.md
run 0 resume.md --resume --set FIXED=yes
grep -q "Resuming run .* at step 'deploy'" "$dir/out"
grep -qx 'deploying v42' "$dir/out"
grep -qx 'verified v42' "$dir/out"
run 0 undo.md --ephemeral-db
grep -qx healthy "$dir/out"
[ -e release-marker.txt ] && rm release-marker.txt
run 1 undo.md --ephemeral-db --set BREAK=yes
grep -qx 'undone: release-marker.txt removed (the limit goes back to 20)' "$dir/out"
grep -qx 'Undone: write-marker raise-limit create-table' "$dir/out"
grep -qx 'release failed at check; undone: write-marker raise-limit create-table' "$dir/out"
[ ! -e release-marker.txt ]
echo "examples ok"
