#!/usr/bin/env bash
# Error cases in one file, after jq's tests/jq.test %%FAIL blocks.
#
#   tests/errors/run.sh BINARY [FILE]     (FILE: tests/errors/errors.test)
#
# Each case is a block:
#
#   %%FAIL                 (or "%%FAIL escaped": the runbook text goes through
#                           printf %b first, for NUL bytes, bytes that are not
#                           UTF-8 and hidden characters: write \0, \xe9, \033,
#                           and every backslash of the runbook doubled)
#   the runbook, any number of lines
#   %%EXPECT
#   the exact output of `runbook check case.md`, up to a blank line
#
# Between cases, blank lines and lines starting with "#" (comments). Each
# runbook is written to case.md in a scratch directory, so the paths in the
# output never change, and checked there with a PATH holding only bash and
# sh: shellcheck, when installed, would add warnings that vary by version.
# Every case must exit 2. A mismatch prints a diff; the script fails when
# any case does. RB_GOLDEN_UPDATE=1 rewrites FILE with the current outputs.
set -u
export LC_ALL=C
bin=$1
file=${2:-$(dirname "$0")/errors.test}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
for tool in bash sh; do ln -s "$(command -v "$tool")" "$work/bin/$tool"; done
update=${RB_GOLDEN_UPDATE:-}
rewritten=$work/rewritten
: > "$rewritten"

cases=0 failed=0
state=between     # between | runbook | expect
text=() expect=() escaped=0 start=0 lineno=0

emit() { [ "$update" = 1 ] && printf '%s\n' "$@" >> "$rewritten"; return 0; }

run_case() {
  cases=$((cases + 1))
  if [ "$escaped" = 1 ]; then
    printf '%b\n' "${text[@]}" > "$work/case.md"
  else
    printf '%s\n' "${text[@]}" > "$work/case.md"
  fi
  (cd "$work" && PATH="$work/bin" "$bin" check case.md > actual 2>&1; echo $? > rc)
  local rc
  rc=$(cat "$work/rc")
  if [ "${#expect[@]}" -gt 0 ]; then printf '%s\n' "${expect[@]}" > "$work/expected"; else : > "$work/expected"; fi
  if [ "$update" = 1 ]; then
    cat "$work/actual" >> "$rewritten"
  fi
  local bad=0
  if [ "$rc" != 2 ]; then
    echo "$file:$start: case $cases: expected exit 2, got $rc"; bad=1
  fi
  if ! diff -u "$work/expected" "$work/actual" > "$work/diff"; then
    echo "$file:$start: case $cases: output differs"; sed -e '1,2d' "$work/diff"; bad=1
  fi
  failed=$((failed + bad))
}

while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  case $state in
  between)
    emit "$line"
    case $line in
    '%%FAIL' | '%%FAIL escaped')
      state=runbook text=() expect=() start=$lineno
      escaped=0; [ "$line" = '%%FAIL escaped' ] && escaped=1 ;;
    '' | '#'*) ;;
    *) echo "$file:$lineno: expected %%FAIL, a comment or a blank line"; exit 1 ;;
    esac ;;
  runbook)
    emit "$line"
    if [ "$line" = '%%EXPECT' ]; then state=expect; else text+=("$line"); fi ;;
  expect)
    if [ -z "$line" ]; then
      run_case; emit ""; state=between
    else
      expect+=("$line")
    fi ;;
  esac
done < "$file"
case $state in
expect) run_case ;;
runbook) echo "$file:$start: a case without %%EXPECT"; exit 1 ;;
esac

if [ "$update" = 1 ]; then
  sed -e '${/^$/d}' "$rewritten" > "$file"
fi
echo "errors: $cases cases, $failed failed"
[ "$cases" -gt 0 ] && [ "$failed" = 0 ]
