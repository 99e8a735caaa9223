#!/usr/bin/env bash
# Pushing the audit record to a shared remote: a one-step run recorded and
# pushed to a bare repository on this machine (--audit-remote), against the
# same run recorded without a remote (best of 7 each, alternating): the
# difference is what the push costs a run. The obvious baseline beside it:
# `git push` of a one-commit change to a file remote. Goal: the push adds
# under 50 ms to a run.
#
# usage: tests/bench/audit-push.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(dirname "$0")
. "$here/table.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q audit
git init -q --bare remote.git
printf '# Push bench\n\n```bash {name=one}\ntrue\n```\n' > one.md
us() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
"$bin" run one.md --audit-repo audit --audit-remote "$work/remote.git" > first.out
grep -q '^Audit remote: 1 commit pushed' first.out || { cat first.out; exit 1; }
with=999999999 without=999999999
for _ in 1 2 3 4 5 6 7; do
  d=$(us "$bin" run one.md --audit-repo audit --audit-remote "$work/remote.git"); [ "$d" -lt "$with" ] && with=$d
  d=$(us "$bin" run one.md --audit-repo audit); [ "$d" -lt "$without" ] && without=$d
done
# Every run's record is on the remote (those without a remote went with the next push).
"$bin" audit push --audit-repo audit --audit-remote "$work/remote.git" > /dev/null
[ "$(git -C remote.git rev-list --count runbook-audit)" = 15 ] || { echo "not 15 records on the remote"; exit 1; }

# git push of one new commit to a file remote, the same way (best of 7).
git init -q gitcli
git -C gitcli remote add origin "$work/remote-git.git"
git init -q --bare remote-git.git
n=0
git_push() {
  n=$((n + 1))
  echo "$n" > "gitcli/f$n"
  git -C gitcli add "f$n" && git -C gitcli -c user.name=b -c user.email=b@x commit -qm "c $n" && git -C gitcli push -q origin HEAD:refs/heads/main
}
gitpush=999999999
for _ in 1 2 3 4 5 6 7; do d=$(us git_push); [ "$d" -lt "$gitpush" ] && gitpush=$d; done
added=$(( with - without ))
printf 'audit push to a file remote, a one-step run (best of 7 each)\n'
printf '  run, recorded and pushed:        %7.1f ms\n' "$(echo "$with / 1000" | bc -l)"
printf '  run, recorded only:              %7.1f ms\n' "$(echo "$without / 1000" | bc -l)"
printf '  the push adds:                   %7.1f ms  (goal < 50 ms)\n' "$(echo "$added / 1000" | bc -l)"
printf '  git commit + git push (baseline):%7.1f ms  (ratio push / git %.2f)\n' "$(echo "$gitpush / 1000" | bc -l)" \
  "$(echo "$added / $gitpush" | bc -l)"
bench_row "audit push to a file remote, added to a run (vs git commit + git push)" \
  "$(printf '%.1f ms' "$(echo "$added / 1000" | bc -l)")" "$(printf '%.1f ms' "$(echo "$gitpush / 1000" | bc -l)")" \
  "$(bench_ratio "$added" "$gitpush")" "< 50 ms"
