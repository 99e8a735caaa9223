#!/usr/bin/env bash
# The command line: help, version, usage errors and their exit codes.
set -euo pipefail
bin=$1
expect_rc() { local want=$1; shift; local rc=0; "$@" >/dev/null 2>&1 || rc=$?; [ "$rc" = "$want" ] || { echo "expected $want from: $*, got $rc"; exit 1; }; }
grep -q 'runbook run FILE' <<< "$("$bin" --help)"
"$bin" --version | grep -qE '^runbook [0-9]+\.[0-9]+\.[0-9]+$'
grep -q -- '--dry-run' <<< "$("$bin" run --help)"
grep -q -- '--json' <<< "$("$bin" plan --help)"
expect_rc 2 "$bin"
expect_rc 2 "$bin" frobnicate x.md
expect_rc 2 "$bin" run
expect_rc 2 "$bin" run --no-such-option x.md
expect_rc 2 "$bin" run /nonexistent/runbook.md
msg=$("$bin" run /nonexistent/runbook.md 2>&1 || true)
[ "$msg" = "/nonexistent/runbook.md: error: cannot open: No such file or directory" ]
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
printf '# T\n\n```bash\necho hi\n```\n' > "$dir/r.md"
expect_rc 2 "$bin" run --set 'not a name=1' "$dir/r.md"
expect_rc 0 "$bin" list "$dir/r.md"
[ "$("$bin" list "$dir/r.md")" = "t-1" ]
# --dry-run is plan: nothing runs.
printf '# T\n\n```bash\ntouch %s/ran\n```\n' "$dir" > "$dir/touch.md"
grep -q 'Plan: T' <<< "$("$bin" run --dry-run "$dir/touch.md")"
[ ! -e "$dir/ran" ]
"$bin" run "$dir/touch.md" >/dev/null
[ -e "$dir/ran" ]
echo "usage ok"
