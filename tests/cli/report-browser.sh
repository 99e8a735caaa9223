#!/usr/bin/env bash
# The run's HTML report as a browser shows it: each fixture of
# report-browser/ (NAME.md, its expectations in NAME.expect) is run with
# --report, and headless chromium loads the page, lets any script run and
# dumps its DOM, which report-browser/check.py reads:
#  - every step of the runbook once in #document with the status the run
#    gave it, one timeline bar per `step` event of the record's journal.log,
#    outputs, gate and abort messages, approvals, attempts, the header's run
#    id and exit code (success, on_failure handler, gate, abort, approvals
#    with --yes, retry; the success fixture again with --no-audit);
#  - the page the audit record commits (runs/.../report.html) shows the same
#    run, and `runbook show RUN --html` differs from it only in the line
#    naming the audit commit (and equals the --report file);
#  - nothing runs in any page: markup in the document, a step's output, a
#    captured SQL result (hostile.md runs with --ephemeral-db), a gate's
#    message and a --set value stays text; one script, the page's own;
#  - a 100-step run printing 1 MiB gives a report under 2 MiB.
# Screenshots of each page are kept as artifacts in the build directory:
# report-screenshots/NAME.png next to the runbook binary.
# Without chromium (Debian package chromium, installed by `make deps`)
# nothing here can be checked: the test says so and exits 77 (skipped).
# RB_CHROMIUM names another chromium binary to use.
set -euo pipefail
bin=$1
chromium=${RB_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
	echo "SKIPPED: chromium is not installed (Debian package chromium; 'make deps' installs it)"
	exit 77
fi
[ -x "$chromium" ] || { echo "RB_CHROMIUM=$chromium: not an executable"; exit 1; }
command -v python3 > /dev/null || { echo "python3 is needed to read the pages"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/report-browser
check=$fixtures/check.py
shots=$(cd "$(dirname "$bin")" && pwd)/report-screenshots

dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
mkdir -p "$shots"
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

render() { # render HTML DOM [PNG]: the DOM of HTML once its scripts ran (and a screenshot)
	local shot=()
	[ -z "${3:-}" ] || shot=(--screenshot="$3" "--window-size=1200,1600" --hide-scrollbars)
	rm -f "$2" ${3:+"$3"}
	timeout -k 5 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$dir/chromium-profile" --disable-extensions --disable-sync \
		--disable-background-networking --virtual-time-budget=2000 "${shot[@]}" \
		--dump-dom "file://$1" > "$2" 2> chromium.err || fail "chromium failed on $1: $(tail -5 chromium.err)"
	grep -q '</html>' "$2" || fail "chromium dumped no page for $1: $(tail -5 chromium.err)"
	[ -z "${3:-}" ] || [ -s "$3" ] || fail "chromium wrote no screenshot of $1"
}
checked() { python3 "$check" "$@" || fail "check.py $1 ${2##*/} failed (above)"; }

# 0. The positive control: chromium runs a page's script here, so the
#    safety checks below would see one that ran in a report.
cat > control.html <<'HTML'
<!DOCTYPE html><html><head><title>control</title></head><body><p>control</p>
<script>document.documentElement.setAttribute('data-pwned', 'control')</script></body></html>
HTML
t0=$(now)
render "$dir/control.html" control.dom
checked control control.dom
echo "chromium started and rendered the control page in $(took "$t0")"

run_fixture() { # run_fixture NAME: runs NAME.md as NAME.expect says; sets path, runid, commit
	local name=$1 expect=$fixtures/$1.expect args want rc line
	cp "$fixtures/$name.md" "$name.md"
	read -ra args <<< "$(sed -n 's/^args //p' "$expect")"
	want=$(sed -n 's/^exit //p' "$expect")
	rm -f STOP tried
	rc=0; USER=report-tester LOGNAME=report-tester "$bin" run "$name.md" ${args[@]+"${args[@]}"} \
		--report "$name.html" > out 2> err || rc=$?
	[ "$rc" = "$want" ] || fail "$name: exit $rc, expected $want"
	[ -s "$name.html" ] || fail "$name: no --report file"
	line=$(grep '^Audit: ' out) || fail "$name: no Audit: line"
	path=$(sed -n 's|^Audit: .*(\(runs/[^)]*\)/record\.md).*|\1|p' <<< "$line")
	[ -n "$path" ] || fail "$name: no record path in: $line"
	runid=$(sed -E 's|^runs/([0-9]{4})/([0-9]{2})/([0-9]{2})/|\1\2\3T|' <<< "$path")
	commit=$(git -C "$RUNBOOK_AUDIT_REPO" rev-parse "$(awk '{ print $3 }' <<< "$line")^{commit}") \
		|| fail "$name: the audit commit of $line"
	git -C "$RUNBOOK_AUDIT_REPO" show "runbook-audit:$path/journal.log" > "$name.journal" \
		|| fail "$name: no journal.log in the record"
	grep -q "^run	id=$runid	" "$name.journal" || fail "$name: the journal is not of run $runid"
	git -C "$RUNBOOK_AUDIT_REPO" show "runbook-audit:$path/runbook.md" | cmp -s - "$name.md" \
		|| fail "$name: the record's runbook.md is not the runbook that ran"
	"$bin" list "$name.md" > "$name.list" 2> err || fail "$name: runbook list"
}

# 1-4. Each fixture: its page, the committed page, show --html, a screenshot.
#      hostile.expect gives --ephemeral-db (an SQL result with markup).
for name in success handler gate abort approvals retry hostile; do
	t0=$(now)
	run_fixture "$name"
	render "$dir/$name.html" "$name.dom" "$shots/$name.png"
	checked page "$name.dom" "$fixtures/$name.expect" "$name.journal" "$name.list" "$runid"
	checked png "$shots/$name.png" 1200 1600 30000

	git -C "$RUNBOOK_AUDIT_REPO" show "runbook-audit:$path/report.html" > "$name.committed.html" \
		|| fail "$name: no report.html in the record"
	render "$dir/$name.committed.html" "$name.committed.dom"
	checked same "$name.dom" "$name.committed.dom"
	"$bin" show "$runid" --html -o "$name.shown.html" > out 2> err || fail "$name: runbook show $runid --html"
	checked commit-line "$name.committed.html" "$name.shown.html" "$commit"
	cmp -s "$name.html" "$name.shown.html" || fail "$name: --report and show --html differ: $(diff "$name.html" "$name.shown.html" | head -10)"
	echo "$name: run, report, committed page and show --html checked in $(took "$t0")"
done

# 1b. --no-audit: the page is all that is kept; the same steps as the
#     recorded run of the same runbook (its journal stands for the record),
#     and a header that says there is no audit commit.
t0=$(now)
cp "$fixtures/success.expect" noaudit.expect
echo 'text - run-notes not recorded (--no-audit)' >> noaudit.expect
echo 'text - run-commit none: the run was not recorded (--no-audit)' >> noaudit.expect
rc=0; USER=report-tester "$bin" run success.md --no-audit --report noaudit.html > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "--no-audit: exit $rc"
grep -q '^Audit: ' out && fail "--no-audit: the run was recorded"
render "$dir/noaudit.html" noaudit.dom "$shots/noaudit.png"
checked page noaudit.dom noaudit.expect success.journal success.list -
echo "noaudit: checked in $(took "$t0")"

# 5. A 100-step runbook whose steps print 1 MiB in all: the page stays
#    under 2 MiB (each output shown as head and tail), every step is there.
t0=$(now)
{
	echo "# Many steps"
	for i in $(seq -w 1 100); do
		printf '\n```bash {name=perf-%s}\n' "$i"
		printf "awk 'BEGIN { for (i = 1; n < 10486; i++) { s = sprintf(\"perf-%s line %%05d %%s\\\\n\", i, \"%s\"); n += length(s); printf \"%%s\", s } }'\n" \
			"$i" "................................................................"
		printf '```\n'
	done
} > perf.md
{
	echo "exit 0"; echo "result succeeded"; echo "title Many steps"
	for i in $(seq -w 1 100); do
		echo "step perf-$i ok main"; echo "output perf-$i perf-$i line 00001 ...."; echo "cut perf-$i"
	done
} > "$dir/perf.expect"
rc=0; "$bin" run perf.md --report perf.html > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "perf: exit $rc"
printed=$(grep '^perf-' out | wc -c)
[ "$printed" -ge 1048576 ] || fail "perf: the steps printed $printed bytes, not 1 MiB"
size=$(stat -c %s perf.html)
[ "$size" -lt 2097152 ] || fail "perf: the report is $size bytes (2 MiB or more) for $printed bytes of output"
line=$(grep '^Audit: ' out)
path=$(sed -n 's|^Audit: .*(\(runs/[^)]*\)/record\.md).*|\1|p' <<< "$line")
runid=$(sed -E 's|^runs/([0-9]{4})/([0-9]{2})/([0-9]{2})/|\1\2\3T|' <<< "$path")
git -C "$RUNBOOK_AUDIT_REPO" show "runbook-audit:$path/journal.log" > perf.journal
"$bin" list perf.md > perf.list
render "$dir/perf.html" perf.dom "$shots/perf.png"
checked page perf.dom "$dir/perf.expect" perf.journal perf.list "$runid"
checked png "$shots/perf.png" 1200 1600 30000
echo "perf: $printed bytes of output, a report of $size bytes, run and checked in $(took "$t0")"
echo "screenshots: $shots"
