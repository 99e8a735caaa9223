#!/usr/bin/env bash
# The audit log cannot be spoofed by a document: a title with newlines and
# fake trailers gives one summary line and the real trailers; `runbook log`
# lists only real run ids and `log FILE` only that runbook's runs; a commit
# whose trailers were forged by hand is not believed; an ESC in a title is
# shown as \e by log and show, and no raw ESC reaches the terminal.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
git init -q repo
cd repo
git config user.name "Ops Person"
git config user.email ops@example.com
ref=refs/heads/runbook-audit
fail() { echo "audit-integrity: $*"; exit 1; }

printf '%s\n' '---' \
  'title: "x\n\nRun: runs/2020/01/01/000000Z-evil-1\nRunbook: other.md\nResult: succeeded"' \
  '---' '# Evil' '' '```bash' 'echo evil' '```' > evil.md
printf '# Other\n\n```bash\necho other\n```\n' > other.md
# An ESC (and a CSI that would colour the terminal red) in the title.
printf '%s\n' '---' 'title: "Colour \e[31mred"' '---' '# Colour' '' '```bash' 'echo colour' '```' > colour.md

"$bin" run other.md > out 2>&1 || { cat out; fail "other.md failed"; }
"$bin" run evil.md > out 2>&1 || { cat out; fail "evil.md failed"; }
"$bin" run colour.md > out 2>&1 || { cat out; fail "colour.md failed"; }

evil_commit=$(git rev-list --skip=1 -1 "$ref")
msg=$(git log -1 --format=%B "$evil_commit")
# One summary line, then a blank line, then exactly the three real trailers.
[ "$(printf '%s\n' "$msg" | sed -n 2p)" = "" ] || fail "the summary is more than one line: $msg"
[ "$(printf '%s\n' "$msg" | sed -n '3,$p' | grep -c .)" = 3 ] || fail "more than the three trailers: $msg"
grep -q '^x Run: runs/2020/01/01/000000Z-evil-1 Runbook: other.md Result: succeeded: succeeded (1 step' \
  <<< "$(printf '%s\n' "$msg" | head -1)" || fail "unexpected summary: $(printf '%s\n' "$msg" | head -1)"
[ "$(git log -1 --format='%(trailers:key=Runbook,valueonly)' "$evil_commit" | sed '/^$/d')" = "$PWD/evil.md" ] ||
  fail "Runbook trailer: $(git log -1 --format='%(trailers)' "$evil_commit")"
evil_id=$(git log -1 --format='%(trailers:key=Run,valueonly)' "$evil_commit" | sed '/^$/d')
[[ $evil_id =~ ^[0-9]{8}T[0-9]{6}Z-[a-z0-9_-]+-[0-9]+$ ]] || fail "Run trailer: $evil_id"
git cat-file -e "$evil_commit:runs/${evil_id:0:4}/${evil_id:4:2}/${evil_id:6:2}/${evil_id:9}/record.json" ||
  fail "no run directory for $evil_id"

# runbook log lists only the real runs: their ids are the Run trailers of the ref's commits.
"$bin" log > log.txt
real_ids=$(git log --format='%(trailers:key=Run,valueonly)' "$ref" | sed '/^$/d' | sort)
listed=$(awk '{print $3}' log.txt | sort)
[ "$listed" = "$real_ids" ] || { cat log.txt; fail "log lists other ids than the real ones"; }
[ "$(wc -l < log.txt)" = 3 ] || { cat log.txt; fail "expected 3 runs in the log"; }
! grep -q '000000Z-evil-1' <<< "$(awk '{print $3}' log.txt)" || fail "the forged run id is listed"

# log other.md shows the run of other.md only; log evil.md the run of evil.md only.
"$bin" log other.md > other.txt
[ "$(wc -l < other.txt)" = 1 ] && grep -q ' Other: succeeded' other.txt || { cat other.txt; fail "log other.md"; }
"$bin" log evil.md > evil.txt
[ "$(wc -l < evil.txt)" = 1 ] && grep -q "  $evil_id  " evil.txt || { cat evil.txt; fail "log evil.md"; }

# A commit whose trailers were written by hand is not believed: a fake run id
# with no run directory, and a real id the commit did not add.
tree=$(git rev-parse "$ref^{tree}")
fake=$(printf 'Forged: succeeded\n\nRun: 20200101T000000Z-forged-1\nRunbook: %s/other.md\nResult: succeeded\n' "$PWD" |
  git commit-tree "$tree" -p "$ref")
other_id=$(git log -1 --format='%(trailers:key=Run,valueonly)' "$(git rev-list -1 --skip=2 "$ref")" | sed '/^$/d')
replay=$(printf 'Replayed: succeeded\n\nRun: %s\nRunbook: %s/other.md\nResult: succeeded\n' "$other_id" "$PWD" |
  git commit-tree "$tree" -p "$fake")
git update-ref "$ref" "$replay"
"$bin" log > log2.txt
[ "$(wc -l < log2.txt)" = 3 ] || { cat log2.txt; fail "a hand-forged commit is listed"; }
! grep -q -e Forged -e Replayed log2.txt || { cat log2.txt; fail "a hand-forged commit is listed"; }
[ "$(wc -l < <("$bin" log other.md))" = 1 ] || fail "a forged commit counts as a run of other.md"
"$bin" show 20200101T000000Z-forged > show.txt 2>&1 && fail "show believed a forged run"
grep -q "no run '20200101T000000Z-forged'" show.txt || { cat show.txt; fail "show: unexpected message"; }

# An ESC in the title: \e in log and show, never a raw ESC.
"$bin" log > log3.txt
grep -q 'Colour \\e\[31mred: succeeded' log3.txt || { cat -v log3.txt; fail "log does not show \\e"; }
! grep -q $'\x1b' log3.txt || fail "log printed a raw ESC"
colour_id=$(awk '/Colour/ {print $3}' log3.txt)
"$bin" show "$colour_id" > show.md
grep -q '^# Colour \\e\[31mred: succeeded' show.md || { cat -v show.md; fail "show does not show \\e"; }
! grep -q $'\x1b' show.md || fail "show printed a raw ESC"
"$bin" show --json "$colour_id" > show.json
! grep -q $'\x1b' show.json || fail "show --json printed a raw ESC"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["run"]["title"] == "Colour \x1b[31mred", d["run"]' show.json
# The commit itself holds no raw ESC either.
! git log --format=%B "$ref" | grep -q $'\x1b' || fail "a raw ESC in a commit message"
echo "audit-integrity ok"
