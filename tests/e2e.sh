#!/usr/bin/env bash
# End-to-end test: one directory per case, run in a scratch copy.
#   runbook.md      the runbook
#   args            optional: extra arguments to `runbook run`, in shell quoting
#   expected.exit   the exit code
#   expected.out    optional: stdout, with durations normalised to N.NNNs
#   expected.err    optional: stderr, same normalisation
#   check.sh        optional: run afterwards in the scratch directory as
#                   `bash check.sh BINARY`; must exit 0
set -u
bin=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$src/." "$work/"
cd "$work" || exit 1
args=()
if [ -f args ]; then
  eval "args=($(cat args))"
fi
normalise() { sed -E 's/[0-9]+\.[0-9]{3}s/N.NNNs/g'; }
"$bin" run "${args[@]}" runbook.md >out.raw 2>err.raw </dev/null
rc=$?
normalise <out.raw >out.txt
normalise <err.raw >err.txt
status=0
want=$(cat expected.exit)
if [ "$rc" != "$want" ]; then
  echo "exit code: expected $want, got $rc"; status=1
fi
if [ -f expected.out ] && ! diff -u expected.out out.txt; then status=1; fi
if [ -f expected.err ] && ! diff -u expected.err err.txt; then status=1; fi
if [ -f check.sh ] && ! bash check.sh "$bin"; then
  echo "check.sh failed"; status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- stdout"; cat out.raw; echo "--- stderr"; cat err.raw
fi
exit "$status"
