#!/usr/bin/env bash
# Finding runs: show with no run (the newest), latest, HEAD~N, the commit
# and the run directory the Audit: line prints; unknown names and no runs
# at all (exit 2, a clear message); log -n N and log --json; outside a git
# repository the record goes beside the runbook, so log FILE and
# run --resume FILE find it from any directory; an audit repository that
# cannot be opened or created is exit 5.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "$*"; echo "--- out"; cat "$dir/out" 2>/dev/null; echo "--- err"; cat "$dir/err" 2>/dev/null; exit 1; }

book() { # book FILE TITLE: a runbook whose one step fails until the file "fixed" is beside it
	printf -- '---\ntitle: %s\n---\n# %s\n\n```bash {name=one}\necho one\n```\n\n```bash {name=two}\ntest -e fixed\n```\n' \
		"$2" "$2" > "$1"
}
audit_commit() { sed -n 's/^Audit: [^ ]* \([0-9a-f]\{7\}\) in .*/\1/p' "$1"; }
audit_path() { sed -n 's|^Audit: .*(\(runs/[^)]*\)/record\.md).*|\1|p' "$1"; }

# --- in a git repository: show and log find the runs of its audit ref ----------
git init -q repo
cd repo
git config user.name "Ops Person"
git config user.email ops@example.com
book one.md One
book two.md Two
touch fixed

"$bin" show > "$dir/out" 2> "$dir/err" && fail "show with no runs succeeded"
[ "$("$bin" show > /dev/null 2>&1; echo $?)" = 2 ] || fail "show with no runs: not exit 2"
grep -q '^runbook show: no runs recorded on refs/heads/runbook-audit in .*repo/.git/ yet' "$dir/err" \
	|| fail "show with no runs: unclear message"
"$bin" log > "$dir/out" 2> "$dir/err" || fail "log with no runs failed"
grep -q '^no runs recorded on refs/heads/runbook-audit in ' "$dir/out" || fail "log with no runs: no message"

"$bin" run one.md > "$dir/one.out" 2>&1 || { cat "$dir/one.out"; fail "run one failed"; }
"$bin" run two.md > "$dir/two.out" 2>&1 || { cat "$dir/two.out"; fail "run two failed"; }
one_id=$(git log -1 --format=%B refs/heads/runbook-audit~1 | sed -n 's/^Run: //p')
two_id=$(git log -1 --format=%B refs/heads/runbook-audit | sed -n 's/^Run: //p')
[ -n "$one_id" ] && [ -n "$two_id" ] && [ "$one_id" != "$two_id" ] || fail "no run ids: '$one_id' '$two_id'"

"$bin" show > "$dir/out" 2> "$dir/err" || fail "show (the newest) failed"
grep -q '^# Two: succeeded' "$dir/out" || fail "show: not the newest run"
"$bin" show latest > "$dir/out" 2> "$dir/err" || fail "show latest failed"
grep -q '^# Two: succeeded' "$dir/out" || fail "show latest: not the newest run"
"$bin" show HEAD~1 > "$dir/out" 2> "$dir/err" || fail "show HEAD~1 failed"
grep -q '^# One: succeeded' "$dir/out" || fail "show HEAD~1: not the run before the newest"
grep -q '^# Two' "$dir/out" && fail "show HEAD~1 shows the newest run"
"$bin" show HEAD~2 > "$dir/out" 2> "$dir/err" && fail "show HEAD~2 (of 2 runs) succeeded"
grep -q "no run 'HEAD~2' on refs/heads/runbook-audit in .*: it holds 2 runs" "$dir/err" || fail "show HEAD~2: unclear"

# What the Audit: line prints names the run for show.
c=$(audit_commit "$dir/one.out")
p=$(audit_path "$dir/one.out")
[ "${#c}" = 7 ] && [ -n "$p" ] || { cat "$dir/one.out"; fail "no commit or path in the Audit: line"; }
[ "$(git rev-parse "$c")" = "$(git rev-parse refs/heads/runbook-audit~1)" ] || fail "Audit: commit is not run one's"
for name in "$c" "$p" "$p/record.md" "$(basename "$p")" "$one_id"; do
	"$bin" show "$name" > "$dir/out" 2> "$dir/err" || fail "show $name failed"
	grep -q '^# One: succeeded' "$dir/out" || fail "show $name: not run one"
done
"$bin" show --json "$(basename "$p")" > "$dir/out" 2> "$dir/err" || fail "show --json by directory failed"
jq -e --arg id "$one_id" '.run.id == $id and .result == "succeeded" and .exit_code == 0' "$dir/out" > /dev/null \
	|| fail "show --json by directory: not run one's record.json"
"$bin" show --html -o "$dir/report.html" "$p" > "$dir/out" 2> "$dir/err" || fail "show --html by path failed"
grep -q '<html' "$dir/report.html" || fail "show --html by path: no report"

rc=0; "$bin" show no-such-run > "$dir/out" 2> "$dir/err" || rc=$?
[ "$rc" = 2 ] || fail "show of an unknown run: exit $rc, not 2"
grep -q "^runbook show: no run 'no-such-run' on refs/heads/runbook-audit in .*(see runbook log)" "$dir/err" \
	|| fail "show of an unknown run: unclear message"

# log -n N and log --json.
"$bin" log -n 1 > "$dir/out" 2> "$dir/err" || fail "log -n 1 failed"
[ "$(wc -l < "$dir/out")" = 1 ] || fail "log -n 1: not one line"
grep -q "  $two_id  Two: succeeded" "$dir/out" || fail "log -n 1: not the newest run"
"$bin" log > "$dir/out" 2> "$dir/err" || fail "log failed"
[ "$(wc -l < "$dir/out")" = 2 ] || fail "log: not two lines"
"$bin" log -n nine > "$dir/out" 2> "$dir/err" && fail "log -n nine succeeded"
grep -q "^runbook log: -n needs a number of runs, not 'nine'" "$dir/err" || fail "log -n nine: unclear"
"$bin" log --json > "$dir/out" 2> "$dir/err" || fail "log --json failed"
jq -e --arg one "$one_id" --arg two "$two_id" --arg rb "$PWD/two.md" '
	length == 2 and .[0].id == $two and .[1].id == $one and .[0].result == "succeeded"
	and (.[0].commit | test("^[0-9a-f]{40}$")) and .[0].runbook == $rb
	and (.[0].title | startswith("Two: succeeded")) and (.[0].time | test("^[0-9-]{10}T[0-9:]{8}Z$"))
	and .[0].author == "Ops Person <ops@example.com>" and .[0].resumes == null' "$dir/out" > /dev/null \
	|| fail "log --json: wrong content"
[ "$(jq -r '.[0].commit' "$dir/out")" = "$(git rev-parse refs/heads/runbook-audit)" ] || fail "log --json: wrong commit"
"$bin" log -n 1 --json one.md > "$dir/out" 2> "$dir/err" || fail "log -n 1 --json FILE failed"
jq -e --arg one "$one_id" 'length == 1 and .[0].id == $one' "$dir/out" > /dev/null || fail "log -n 1 --json FILE"
cd "$dir"

# --- outside a git repository: the record goes beside the runbook -------------
if git -C "$dir" rev-parse --git-dir > /dev/null 2>&1; then
	echo "find-runs: $dir is inside a git repository: the part outside one is not tested"
else
	mkdir A B C
	book A/x.md Deploy
	rc=0; (cd B && "$bin" run ../A/x.md) > "$dir/x1.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$dir/x1.out"; fail "run from B: exit $rc, not 1 (step two fails)"; }
	[ -d A/.runbook-audit ] || fail "outside git: no .runbook-audit/ beside the runbook"
	[ ! -e B/.runbook-audit ] || fail "outside git: .runbook-audit/ made in the current directory"
	grep -q "^Audit: refs/heads/runbook-audit [0-9a-f]\{7\} in $dir/A/.runbook-audit/ " "$dir/x1.out" \
		|| fail "Audit: line does not name A/.runbook-audit"
	x1=$(git --git-dir=A/.runbook-audit log -1 --format=%B refs/heads/runbook-audit | sed -n 's/^Run: //p')
	[ -n "$x1" ] || fail "no run in A/.runbook-audit"
	(cd C && "$bin" log ../A/x.md) > "$dir/out" 2> "$dir/err" || fail "log A/x.md from C failed"
	grep -q "  $x1  Deploy: failed at two (exit 1)" "$dir/out" || fail "log A/x.md from C: not the run from B"
	touch A/fixed
	(cd C && "$bin" run --resume ../A/x.md) > "$dir/out" 2> "$dir/err" || fail "run --resume A/x.md from C failed"
	(cd C && "$bin" log -n 1 "$dir/A/x.md") > "$dir/out" 2> "$dir/err" || fail "log after resume failed"
	grep -q "Deploy: succeeded (1 step, .*resumes $x1\$" "$dir/out" || fail "the resumed run does not continue $x1"
	[ ! -e C/.runbook-audit ] || fail "outside git: .runbook-audit/ made in C"
	(cd A && "$bin" show HEAD~1) > "$dir/out" 2> "$dir/err" || fail "show HEAD~1 in A failed"
	grep -q '^# Deploy: failed at two (exit 1)' "$dir/out" || fail "show HEAD~1 in A: not the first run"
	rc=0; (cd C && "$bin" run --resume "$dir/B/../A/x.md" --audit-repo "$dir/C/none") > "$dir/out" 2> "$dir/err" \
		|| rc=$?
	[ "$rc" = 5 ] || fail "--resume with an audit repository that is not there: exit $rc, not 5"
	grep -q "audit repository $dir/C/none: " "$dir/err" || fail "--resume: the audit repository is not named"
fi

# --- an audit repository that cannot be created or opened: exit 5 --------------
book bad.md Bad
rc=0; "$bin" run bad.md --audit-repo /proc/nope > "$dir/out" 2> "$dir/err" || rc=$?
[ "$rc" = 5 ] || fail "run with --audit-repo /proc/nope: exit $rc, not 5"
grep -q '^runbook: cannot record this run: audit repository /proc/nope: ' "$dir/err" || fail "run: unclear message"
for cmd in log show; do
	rc=0; "$bin" $cmd --audit-repo /proc/nope > "$dir/out" 2> "$dir/err" || rc=$?
	[ "$rc" = 5 ] || fail "$cmd with --audit-repo /proc/nope: exit $rc, not 5"
	grep -q "^runbook $cmd: audit repository /proc/nope: .*(use --audit-repo DIR)" "$dir/err" \
		|| fail "$cmd: unclear message"
done
echo "find-runs ok"
