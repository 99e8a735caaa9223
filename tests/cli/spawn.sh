#!/usr/bin/env bash
# Processes that cannot be started (process.h): a missing working directory
# or a missing shell is an environment error (exit 5, or a diagnostic before
# the run), never a step's exit status 126 or 127.
set -euo pipefail
bin=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail() { echo "spawn: $*"; exit 1; }

# A step whose cwd= does not exist: exit 5, the directory named, nothing run.
printf '# Missing cwd\n\n```bash {name=nowhere cwd=does-not-exist}\necho should not run\n```\n' > "$dir/cwd.md"
rc=0
"$bin" run --no-audit "$dir/cwd.md" > "$dir/out" 2> "$dir/err" || rc=$?
[ "$rc" = 5 ] || fail "missing cwd: exit $rc, expected 5"
grep -q "step 'nowhere': cannot change directory to .*does-not-exist: No such file or directory" "$dir/err" ||
  fail "missing cwd: the directory is not named: $(cat "$dir/err")"
! grep -q 'should not run' "$dir/out" || fail "missing cwd: the step ran"

# No shell to check a block with: a diagnostic naming it, before anything runs.
printf '# No shell\n\n```bash\ntouch %s/ran\n```\n' "$dir" > "$dir/nosh.md"
rc=0
PATH=/nonexistent "$bin" check "$dir/nosh.md" > "$dir/out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no bash: check exited $rc, expected 2"
grep -q 'shell syntax not checked: cannot run bash: No such file or directory' "$dir/out" ||
  fail "no bash: $(cat "$dir/out")"
[ ! -e "$dir/ran" ] || fail "no bash: something ran"
echo "spawn ok"
