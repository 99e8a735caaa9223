#!/usr/bin/env bash
# The audit ref at scale: a few hundred runs made with git fast-import (as
# tests/bench/audit-scale.sh makes ten thousand), between real runs. log
# lists every run, newest first in the ref's order (their commit times all
# equal), with the right count, and log FILE only FILE's; log -n, --json
# and `log | head` (quiet, no error); show finds the oldest, the newest and
# a middle run by id, by HEAD~N, by directory and by commit. A commit with
# a run's trailers that added no record, in the middle, is neither listed,
# counted by HEAD~N, nor shown. A run resumed from under hundreds of newer
# commits: --resume finds it, show of either run shows the chain; a revert
# of an old run is reported by show of that run. A merged side history is
# listed once. Timings are the bench's.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "audit-scale: $*"; for f in out err; do [ -s "$dir/repo/$f" ] && { echo "--- $f"; head -50 "$dir/repo/$f"; }; done; exit 1; }
git init -q repo
cd repo
here=$(pwd -P)
git config user.name "Ops Person"
git config user.email ops@example.com
ref=refs/heads/runbook-audit
last_run() { git log -1 --format='%(trailers:key=Run,valueonly)' "$ref" | sed '/^$/d'; }

printf -- '---\ntitle: Tiny\n---\n# Tiny\n\n```bash\necho tiny\n```\n' > tiny.md
printf -- '---\ntitle: Other\n---\n# Other\n\n```bash\necho other\n```\n' > other.md
printf -- '---\ntitle: Chain\n---\n# Chain\n\n```bash {name=one}\necho one\n```\n\n```bash {name=two}\ntest -e fixed\n```\n' > chain.md
printf -- '---\ntitle: Undoable\n---\n# Undoable\n\n```bash {name=make}\necho made\n```\n\n```bash undo\necho unmade\n```\n' > undoable.md

# synth FIRST COUNT FORGED: COUNT runs on top of the ref (FIRST, FIRST+1, ...),
# alternately of tiny.md and other.md, all committed at the same second; the
# one numbered FORGED is a commit with a run's trailers that adds nothing.
# Appends "id runbook" of each real one, oldest first, to synth.list.
synth() {
	python3 - "$1" "$2" "$3" "$here" "$(git rev-parse "$ref")" "$(date +%s)" >> synth.list 3> stream <<'PY'
import datetime, os, sys
first, count, forged, here, tip, now = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
out = os.fdopen(3, "w")
def data(text):
    b = text.encode()
    out.write(f"data {len(b)}\n"); out.write(text); out.write("\n")
start = datetime.datetime(2025, 1, 1)
for i in range(first, first + count):
    t = start + datetime.timedelta(seconds=i * 7919)   # spread over days
    book = "tiny" if i % 2 else "other"
    run = f"{t:%Y%m%dT%H%M%S}Z-{book}-{100000 + i}"
    path = f"runs/{t:%Y/%m/%d}/{t:%H%M%S}Z-{book}-{100000 + i}"
    out.write("commit refs/heads/runbook-audit\n")
    out.write(f"committer Bench <bench@localhost> {now} +0000\n")
    data(f"Synthetic {i}: succeeded (1 step, 0.010s)\n\nRun: {run}\nRunbook: {here}/{book}.md\nResult: succeeded\n")
    if i == first:
        out.write(f"from {tip}\n")
    if i != forged:
        data_files = {"record.md": f"# Synthetic {i}: succeeded\n",
                      "record.json": '{"run": {"id": "%s"}}\n' % run}
        for name, text in data_files.items():
            out.write(f"M 100644 inline {path}/{name}\n"); data(text)
        print(run, book)
    out.write("\n")
PY
	git fast-import --quiet < stream
}

# The oldest runs are real: a run of chain.md that fails at 'two', one of undoable.md.
rc=0; "$bin" run chain.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "chain.md: exit $rc, not 1"
a1=$(last_run)
"$bin" run undoable.md > out 2> err || fail "undoable.md failed"
u1=$(last_run)
: > synth.list
synth 0 300 150
# Then real runs: run 1 continued (--resume) and run 2 reverted, from under 300 commits.
touch fixed
"$bin" run --resume chain.md > out 2> err || fail "run --resume chain.md failed"
grep -q "^Resuming run $a1 at step 'two'" out || fail "--resume does not continue $a1"
a2=$(last_run)
"$bin" revert "$u1" > out 2> err || fail "revert $u1 failed"
r1=$(last_run)
[ "$(git log -1 --format='%(trailers:key=Reverts,valueonly)' "$ref" | sed '/^$/d')" = "$u1" ] || fail "no Reverts trailer"
synth 300 100 -1

# Every run, newest first: the ref's order.
{ echo "$a1 chain"; echo "$u1 undoable"; sed -n 1,299p synth.list; echo "$a2 chain"; echo "$r1 undoable";
  sed -n '300,$p' synth.list; } | tac > want.list
[ "$(wc -l < want.list)" = 403 ] || fail "want.list: $(wc -l < want.list) lines"
"$bin" log > out 2> err || fail "log failed"
[ "$(wc -l < out)" = 403 ] || fail "log: $(wc -l < out) runs, not 403"
diff <(awk '{print $3}' out) <(cut -d' ' -f1 want.list) > /dev/null || fail "log: not every run newest first"
! grep -q -- '-100150 ' out || fail "log lists the forged commit"
"$bin" log tiny.md > out 2> err || fail "log tiny.md failed"
diff <(awk '{print $3}' out) <(awk '$2 == "tiny" {print $1}' want.list) > /dev/null || fail "log tiny.md: not tiny.md's runs"
[ "$(wc -l < out)" = 200 ] || fail "log tiny.md: $(wc -l < out) runs, not 200"
"$bin" log -n 7 other.md > out 2> err || fail "log -n 7 other.md failed"
diff <(awk '{print $3}' out) <(awk '$2 == "other" {print $1}' want.list | head -n 7) > /dev/null || fail "log -n 7 other.md"
"$bin" log chain.md > out 2> err || fail "log chain.md failed"
diff <(awk '{print $3}' out) <(printf '%s\n' "$a2" "$a1") > /dev/null || fail "log chain.md"
grep -q "resumes $a1\$" out || fail "log chain.md: $a2 does not say it resumes $a1"
"$bin" log --json > out 2> err || fail "log --json failed"
diff <(jq -r '.[].id' out) <(cut -d' ' -f1 want.list) > /dev/null || fail "log --json: not every run newest first"
"$bin" log -n 0 > out 2> err && [ ! -s out ] || fail "log -n 0 printed something"
# A reader that stops early ends log quietly, as it ends git log.
set +o pipefail
"$bin" log 2> err | head -n 3 > out
set -o pipefail
[ "$(wc -l < out)" = 3 ] && [ ! -s err ] || fail "log | head -n 3"

# show: the newest, the oldest, a middle run; by id, HEAD~N, directory, commit.
title_of() { # the record.md title show prints for run $1
	case $(awk -v id="$1" '$1 == id {print $2}' want.list) in
	chain) echo '# Chain: ';; undoable) echo '# Undoable: ';; *) echo "# Synthetic $((10#${1##*-} - 100000)): ";;
	esac
}
for n in 0 100 101 250 251 402; do # 250, 251: either side of the forged commit
	id=$(sed -n "$((n + 1))p" want.list | cut -d' ' -f1)
	t=$(title_of "$id")
	"$bin" show "HEAD~$n" > out 2> err || fail "show HEAD~$n failed"
	grep -q "^$t" out || fail "show HEAD~$n: not $id ($t)"
	"$bin" show "$id" > out 2> err || fail "show $id failed"
	grep -q "^$t" out || fail "show $id: not its record"
done
"$bin" show HEAD~403 > out 2> err && fail "show HEAD~403 succeeded"
grep -q "it holds 403 runs" err || fail "show HEAD~403: unclear"
"$bin" show > out 2> err && grep -q '^# Synthetic 399: ' out || fail "show: not the newest run"
mid=$(sed -n 151p synth.list | cut -d' ' -f1)   # line N holds run N-1 up to the forged 150
[[ $mid == *-100151 ]] || fail "synth.list: $mid"
mid_commit=$(git log --format='%H %(trailers:key=Run,valueonly,separator=)' "$ref" | awk -v id="$mid" '$2 == id {print $1}')
"$bin" show "${mid_commit:0:10}" > out 2> err && grep -q '^# Synthetic 151: ' out || fail "show by commit"
"$bin" show --json "${mid#*T}" > out 2> err && jq -e --arg id "$mid" '.run.id == $id' out > /dev/null || fail "show by directory"

# The forged commit: its trailers name a run it did not add.
forged=$(git log --format='%H %s' "$ref" | awk '$3 == "150:" {print $1}')
[ -n "$forged" ] || fail "no forged commit"
forged_id=$(git log -1 --format='%(trailers:key=Run,valueonly)' "$forged" | sed '/^$/d')
for name in "$forged_id" "${forged:0:12}"; do
	rc=0; "$bin" show "$name" > out 2> err || rc=$?
	[ "$rc" = 2 ] && grep -q "no run '$name'" err || fail "show $name (forged): exit $rc"
done

# Resume chains and reverts across the history.
"$bin" show "$a1" > out 2> err || fail "show $a1 failed"
grep -q '^## Resume chain' out && grep -q "$a2" out || fail "show $a1: no chain with $a2"
"$bin" show "$a2" > out 2> err || fail "show $a2 failed"
grep -q '^## Resume chain' out && grep -q "$a1" out || fail "show $a2: no chain with $a1"
"$bin" show "$u1" > out 2> err || fail "show $u1 failed"
grep -qx "Reverted by run $r1 (runbook revert)." out || fail "show $u1: the revert is not reported"
"$bin" show "$r1" > out 2> err || fail "show $r1 failed"
! grep -q '^Reverted by' out || fail "show $r1: reverted?"
rc=0; "$bin" revert "$u1" > out 2> err || rc=$?
[ "$rc" = 2 ] && grep -q "reverted already, by run $r1" err || fail "a second revert of $u1: exit $rc"
rc=0; "$bin" run --resume chain.md > out 2> err || rc=$?
[ "$rc" = 2 ] && grep -q "the last run ($a2) succeeded" err || fail "--resume after the chain succeeded: exit $rc"

# A merge into the ref (an audit ref fetched and merged by hand): the runs of
# both sides, each once; the merge itself is no run.
python3 - "$here" "$(git rev-parse "$ref")" "$(git rev-parse "$ref~50")" "$(date +%s)" > side.list 3> stream <<'PY'
import os, sys
here, tip, base, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
out = os.fdopen(3, "w")
def data(text):
    out.write(f"data {len(text.encode())}\n"); out.write(text); out.write("\n")
files = []
for i in (1, 2):
    run, path = f"20240101T00000{i}Z-side-{i}", f"runs/2024/01/01/00000{i}Z-side-{i}"
    out.write(f"commit refs/heads/side\nmark :{i}\ncommitter Side <side@localhost> {now - 10 + i} +0000\n")
    data(f"Side {i}: succeeded (1 step, 0.010s)\n\nRun: {run}\nRunbook: {here}/tiny.md\nResult: succeeded\n")
    if i == 1:
        out.write(f"from {base}\n")
    files += [(f"{path}/record.md", f"# Side {i}: succeeded\n"), (f"{path}/record.json", '{"run": {"id": "%s"}}\n' % run)]
    for name, text in files[-2:]:
        out.write(f"M 100644 inline {name}\n"); data(text)
    out.write("\n")
    print(run)
out.write(f"commit refs/heads/runbook-audit\ncommitter Side <side@localhost> {now} +0000\n")
data("Merge branch 'side'\n")
out.write(f"from {tip}\nmerge :2\n")
for name, text in files:
    out.write(f"M 100644 inline {name}\n"); data(text)
out.write("\n")
PY
git fast-import --quiet < stream
"$bin" log > out 2> err || fail "log after the merge failed"
[ "$(wc -l < out)" = 405 ] || fail "log after the merge: $(wc -l < out) runs, not 405"
[ -z "$(awk '{print $3}' out | sort | uniq -d)" ] || fail "log after the merge lists a run twice"
diff <(awk '{print $3}' out | sort) <(cat side.list <(cut -d' ' -f1 want.list) | sort) > /dev/null || fail "log after the merge"
for i in 1 2; do
	"$bin" show "$(sed -n "${i}p" side.list)" > out 2> err && grep -q "^# Side $i: " out || fail "show of side run $i"
done
"$bin" show HEAD~402 > out 2> err || fail "show HEAD~402 after the merge"
echo "audit-scale ok"
