#!/usr/bin/env bash
# An audit ref that already holds many runs: the cost of the next commit
# against the first run's commit, and `runbook log | head` and `runbook show`
# of the newest and of the oldest run (with, for the record, log -n, a run in
# the middle, a name that matches no run, and the whole log).
#
# The history is made by `git fast-import` from one real run of runbook
# (its record.md, record.json, journal.log, report.html, runbook.md), copied
# into N run directories spread over the days of a year, a commit each, with
# the trailers runbook writes (Run:, Runbook:, Result:, ...). N defaults to
# 10,000 (BENCH_AUDIT_RUNS).
#
# Each figure is the best of several; the first and the next commit are
# measured in turns, so that a machine busy with other work weighs on both
# alike. Beside the wall time, the CPU time (user + system, of the whole
# pipeline) says what the command costs when the machine is busy.
#
# usage: tests/bench/audit-scale.sh BINARY
set -euo pipefail
bin=$(realpath "$1")
n=${BENCH_AUDIT_RUNS:-10000}
. "$(dirname "$0")/table.sh"
work=$(mktemp -d)
[ -n "${BENCH_KEEP:-}" ] && echo "kept: $work" || trap 'rm -rf "$work"' EXIT
cd "$work"
printf -- '---\ntitle: Tiny\n---\n# Tiny\n\n```bash\necho hi\n```\n' > tiny.md
ref=refs/heads/runbook-audit

commit_ms() { # the "committed in X ms" of a run into repository $1
  "$bin" run --audit-repo "$1" tiny.md | sed -n 's/.*committed in \([0-9.]*\) ms$/\1/p'
}
min() { if (( $(echo "$2 < $1" | bc -l) )); then echo "$2"; else echo "$1"; fi; }
TIMEFORMAT='%R %U %S'
best=() # best wall and best CPU time in ms of "$@" over 5 runs, into best[0] and best[1]
measure() {
  local w=999999 c=999999 t r u s
  for _ in 1 2 3 4 5; do
    t=$( { time "$@" > /dev/null 2>&1 || true; } 2>&1 ) # show NO-SUCH-RUN exits 2
    read -r r u s <<< "$t"
    w=$(min "$w" "$(echo "$r * 1000 / 1" | bc)")
    c=$(min "$c" "$(echo "($u + $s) * 1000 / 1" | bc)")
  done
  best=("$w" "$c")
}

# A template run, then N runs made from it.
git init -q big
"$bin" run --audit-repo big tiny.md > /dev/null
tip=$(git -C big rev-parse "$ref")
dir=$(git -C big ls-tree -r --name-only "$ref" | sed -n 's|/record.md$||p')
git -C big update-ref -d "$ref"
git -C big ls-tree -r "$tip" | awk '{print $3, $4}' | sed "s| $dir/| |" > blobs
python3 - "$n" blobs > stream <<'PY'
import sys, datetime
n = int(sys.argv[1])
files = [l.split() for l in open(sys.argv[2])]  # blob, name
start = datetime.datetime(2025, 11, 30, 0, 0, 0)
out = sys.stdout
for i in range(n):
    t = start + datetime.timedelta(seconds=i * 3153)  # spread over a year
    stamp = t.strftime("%Y%m%dT%H%M%SZ")
    run = f"{stamp}-tiny-{100000 + i}"
    path = f"runs/{t:%Y/%m/%d}/{t:%H%M%S}Z-tiny-{100000 + i}"
    msg = (f"Tiny: succeeded (1 step, 0.010s)\n\nRun: {run}\nRunbook: /tmp/tiny.md\n"
           f"Result: succeeded\n").encode()
    epoch = int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
    out.write(f"commit refs/heads/runbook-audit\nmark :{i + 1}\n")
    out.write(f"committer Bench <bench@localhost> {epoch} +0000\n")
    out.write(f"data {len(msg)}\n")
    out.flush(); sys.stdout.buffer.write(msg); out.write("\n")
    if i == 0:
        out.write("deleteall\n")
    for blob, name in files:
        out.write(f"M 100644 {blob} {path}/{name}\n")
    out.write("\n")
PY
git -C big fast-import --quiet < stream
git -C big gc -q
root=$(git -C big rev-list --max-parents=0 "$ref")
oldest=$(git -C big log -1 --format=%B "$root" | sed -n 's/^Run: //p')


# The first run's commit, each into a new, empty repository, and the next
# commit into the big one, in turns.
first=999999 next=999999
for i in 1 2 3 4 5 6 7; do
  git init -q "first$i"
  first=$(min "$first" "$(commit_ms "first$i")")
  next=$(min "$next" "$(commit_ms big)")
done
middle=$(git -C big log -1 --format=%B "$ref~$((n / 2))" | sed -n 's/^Run: //p')
printf 'audit ref with %d runs:                   wall      cpu\n' "$n"
printf '  first run'"'"'s commit (empty repository): %8.2f ms\n' "$first"
printf '  next commit with %d runs:           %8.2f ms\n' "$n" "$next"
printf '  ratio next / first:                     %8.2f   (goal <= 2)\n' "$(echo "$next / $first" | bc -l)"
bench_row "audit commit with $n runs in the ref (vs the first run's)" "$next ms" "$first ms" \
  "$(bench_ratio "$next" "$first")" "<= 2"
row() { # row LABEL GOAL COMMAND...
  local label=$1 goal=$2
  shift 2
  measure "$@"
  printf '  %-38s %6d ms %6d ms%s\n' "$label" "${best[0]}" "${best[1]}" "${goal:+   (goal $goal)}"
}
row "runbook log | head:" "< 200 ms" bash -c "'$bin' log --audit-repo big | head -n 20; true"
rb=${best[0]}
measure bash -c "git -C big log $ref | head -n 20; true"
bench_row "runbook log | head, $n runs (vs git log | head)" "$rb ms" "${best[0]} ms" "$(bench_ratio "$rb" "${best[0]}")" "< 200 ms"
row "runbook show latest:" "< 200 ms" "$bin" show --audit-repo big latest
rb=${best[0]}
measure git -C big show --stat "$ref"
bench_row "runbook show latest, $n runs (vs git show --stat)" "$rb ms" "${best[0]} ms" "$(bench_ratio "$rb" "${best[0]}")" "< 200 ms"
row "runbook show OLDEST-RUN:" "< 200 ms" "$bin" show --audit-repo big "$oldest"
rb=${best[0]}
measure git -C big log -1 --grep "^Run: $oldest\$" "$ref"
bench_row "runbook show OLDEST-RUN, $n runs (vs git log --grep)" "$rb ms" "${best[0]} ms" "$(bench_ratio "$rb" "${best[0]}")" "< 200 ms"
row "runbook log -n 20:" "" "$bin" log --audit-repo big -n 20
row "runbook show MIDDLE-RUN:" "" "$bin" show --audit-repo big "$middle"
row "runbook show NO-SUCH-RUN:" "" "$bin" show --audit-repo big 20200101T000000Z-none-1
row "runbook log (all runs):" "" "$bin" log --audit-repo big
