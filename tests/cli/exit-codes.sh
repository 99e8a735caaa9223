#!/usr/bin/env bash
# The exit codes are listed once, in the program (`runbook --help` prints
# util.c's table); docs/format.md's table, the README and the man page must
# list the same codes.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
fail() { echo "FAIL: $*"; exit 1; }
codes=$("$bin" --help | sed -n '/^Exit codes:/,$p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$codes" ] || fail "runbook --help lists no exit codes"
[ "$(echo "$codes" | wc -l)" -ge 8 ] || fail "runbook --help lists too few exit codes: $codes"
table=$(sed -n '/^### Exit codes/,/^### /p' "$src/docs/format.md")
man=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$src/docs/runbook.1")
readme=$(sed -n '/^Exit codes:/,/^$/p' "$src/README.md" | tr '\n' ' ')
for c in $codes; do
  if [ "$c" = "128+N" ]; then
    echo "$table" | grep -q '^| 129, 130, 143 |' || fail "docs/format.md: no row for $c"
  else
    echo "$table" | grep -q "^| $c |" || fail "docs/format.md: no row for exit code $c"
  fi
  echo "$man" | grep -qx "\.B $c" || fail "docs/runbook.1: exit code $c missing"
  echo "$readme" | grep -q "\`$c\`" || fail "README.md: exit code $c missing"
done
# And nothing documented that the program does not know.
for c in $(echo "$table" | sed -n 's/^| \([0-9]\) |.*/\1/p'); do
  echo "$codes" | grep -qx "$c" || fail "docs/format.md documents exit code $c, which runbook --help does not list"
done
echo "exit-codes: ok"
