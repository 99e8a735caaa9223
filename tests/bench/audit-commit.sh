#!/usr/bin/env bash
# The audit commit against the git command line: the record of a 100-step
# run (record.md, record.json, journal.log) committed by runbook through
# libgit2, against `git add` + `git commit` of the same three files. The
# runbook figure is the difference between a run with and without --no-audit
# (best of 5 each), so only the recording and the commit are counted.
#
# usage: tests/bench/audit-commit.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q audit
{
  echo "# 100 steps"
  for i in $(seq 100); do printf '\n```bash\necho step %d\n```\n' "$i"; done
} > steps.md

best() {
  local b=999999 t0 t1 d
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N)
    d=$(( (t1 - t0) / 1000 ))
    [ "$d" -lt "$b" ] && b=$d
  done
  echo "$b"
}
with=$(best "$bin" run --audit-repo audit steps.md)
commit_ms=999999
for _ in 1 2 3 4 5; do
  ms=$("$bin" run --audit-repo audit steps.md | sed -n 's/.*committed in \([0-9.]*\) ms$/\1/p')
  if (( $(echo "$ms < $commit_ms" | bc -l) )); then commit_ms=$ms; fi
done
without=$(best "$bin" run --no-audit steps.md)
recording=$((with - without))
[ "$recording" -gt 0 ] || recording=1

# The same files, committed with the git command line into a second repository.
files=$(git --git-dir=audit/.git ls-tree -r --name-only refs/heads/runbook-audit | head -3)
git init -q cli
mkdir -p cli/run
for f in $files; do git --git-dir=audit/.git show "refs/heads/runbook-audit:$f" > "cli/run/$(basename "$f")"; done
n=0
git_commit() {
  n=$((n + 1))
  mkdir -p "cli/run$n" && cp cli/run/* "cli/run$n/"
  git -C cli add "run$n" && git -C cli -c user.name=b -c user.email=b@x commit -qm "run $n"
}
gitcli=$(best git_commit)
printf 'audit commit of a 100-step run (record.md, record.json, journal.log):\n'
printf '  runbook, the libgit2 commit alone:  %8.0f us\n' "$(echo "$commit_ms * 1000" | bc -l)"
printf '  git add + git commit:               %8d us\n' "$gitcli"
printf '  ratio runbook commit / git CLI:     %8.2f\n' "$(echo "$commit_ms * 1000 / $gitcli" | bc -l)"
printf '  whole recording, fsync'"'"'d journal included: %d us (run with audit %d us - without %d us)\n' "$recording" "$with" "$without"
