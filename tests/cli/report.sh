#!/usr/bin/env bash
# The run's HTML report outside the browser (report-browser.sh renders it):
# --report FILE, the copy in the record (report.html, and runbook.md: the
# runbook as run, secrets hidden), show RUN --html [-o FILE]; with
# --no-audit, a path that cannot be written, --resume, and a run killed
# with kill -9 (committed by the next run, without the document).
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; exit 1; }
run_dir() { sed -n 's/.*(\(runs\/[^)]*\)\/record\.md).*/\1/p' out | tail -1; }
show_file() { git -C audit show "runbook-audit:$1"; }

cat > r.md <<'MD'
---
env:
  API_TOKEN: tok-literal-5ecret
---
# Reported

## Work

```bash {name=first}
echo "first-output-marker $API_TOKEN"
```

```bash {name=second}
test ! -e FAIL_SECOND
echo second-output-marker
```
MD

# 1. --report FILE and the record's copy: the same page but for the commit
#    line (the committed copy cannot name its own commit); runbook.md is the
#    runbook with the secret hidden.
"$bin" run r.md --report rep.html > out 2>&1 || fail "the run failed"
[ -s rep.html ] || fail "--report wrote nothing"
d=$(run_dir)
show_file "$d/report.html" > committed.html || fail "no report.html in the record"
diff <(grep -v 'run-commit' rep.html) <(grep -v 'run-commit' committed.html) > /dev/null ||
  fail "the committed report differs from --report's beyond the commit line"
commit=$(git -C audit rev-parse runbook-audit)
grep -q "$commit" rep.html || fail "--report's page does not name the audit commit"
grep -q "$commit" committed.html && fail "the committed page names a commit it cannot know"
show_file "$d/runbook.md" > doc.md || fail "no runbook.md in the record"
grep -q 'tok-literal-5ecret' doc.md rep.html committed.html && fail "the secret is in the record's runbook or report"
grep -q 'API_TOKEN: \*\*\*' doc.md || fail "runbook.md is not the runbook with the secret hidden"
grep -q 'first-output-marker \*\*\*' rep.html || fail "the step's output is not in the report"
for s in first second; do
  [ "$(grep -c "class=\"step[^\"]*\" id=\"step-[0-9]*\" data-step=\"$s\" data-status=\"ok\"" rep.html)" = 1 ] ||
    fail "step $s is not in the report once, ok"
done

# 2. show RUN --html: made again from the record, naming the commit; -o FILE
#    and stdout alike; the options that go with it.
id=$(show_file "$d/journal.log" | sed -n 's/^run\tid=\([^\t]*\).*/\1/p')
"$bin" show "$id" --html -o shown.html > out 2>&1 || fail "show --html -o failed"
cmp -s shown.html rep.html || fail "show --html differs from the report the run wrote"
"$bin" show "$id" --html > stdout.html 2> err || fail "show --html to stdout failed"
cmp -s stdout.html rep.html || fail "show --html on stdout differs"
"$bin" show "$id" -o x.html > out 2>&1; [ $? = 2 ] || fail "-o without --html was accepted"
"$bin" show "$id" --html --json > out 2>&1; [ $? = 2 ] || fail "--html with --json was accepted"

# 3. A report path that cannot be written: exit 5 before anything runs or is recorded.
before=$(git -C audit rev-parse runbook-audit)
rm -f first.ran
"$bin" run r.md --report /nonexistent-dir/rep.html > out 2>&1
[ $? = 5 ] || fail "an unwritable --report path: expected exit 5"
grep -q 'first-output-marker' out && fail "a step ran although the report cannot be written"
"$bin" run r.md --report . > out 2>&1; [ $? = 5 ] || fail "--report naming a directory: expected exit 5"
[ "$(git -C audit rev-parse runbook-audit)" = "$before" ] || fail "a refused run was recorded"
ls audit/.git/runbook/journal/*.log > /dev/null 2>&1 && fail "a refused run left a journal"

# 3b. A report that cannot be written whole (the file size limit, EFBIG):
#     exit 5 saying so, and no half-written file.
(trap '' XFSZ; ulimit -f 4; exec "$bin" run r.md --no-audit --report big.html) 2>&1 | cat > out
[ "${PIPESTATUS[0]}" = 5 ] || fail "a report that cannot be written: expected exit 5"
grep -q 'cannot write .*big.html' out || fail "the failed write is not said"
[ ! -e big.html ] && ! ls big.html.*.tmp > /dev/null 2>&1 || fail "a half-written report was left"

# 4. --no-audit: the report is all that is kept.
"$bin" run r.md --no-audit --report na.html > out 2>&1 || fail "--no-audit --report failed"
grep -q 'not recorded (--no-audit)' na.html || fail "the --no-audit report does not say it is all that is kept"
grep -q 'data-step="second" data-status="ok"' na.html || fail "the --no-audit report lacks a step"

# 5. A failed run, then --resume --report: the resumed run's report has the
#    step it ran, the earlier one is not run again.
touch FAIL_SECOND
"$bin" run r.md --report f.html > out 2>&1; [ $? = 1 ] || fail "a failing step: expected exit 1"
grep -q 'data-step="second" data-status="failed"' f.html || fail "the failed step is not marked failed"
rm FAIL_SECOND
"$bin" run r.md --resume --report res.html > out 2>&1 || fail "--resume failed"
grep -q 'data-step="second" data-status="ok"' res.html || fail "the resumed step is not ok in its report"
grep -q 'data-step="first" data-status="ok"' res.html && fail "the resumed run's report says it ran the first step"
"$bin" run r.md --resume --report res2.html > out 2>&1 && fail "a second --resume of a finished run was accepted"
[ -e res2.html ] && fail "a refused resume wrote a report"

# 6. kill -9 during a step: the next run commits the interrupted run with its
#    report, without the document (its secrets are not known then).
cat > slow.md <<'MD'
# Slow

```bash {name=wait}
echo waiting-marker
sleep 30
```
MD
"$bin" run slow.md > slow.out 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q waiting-marker slow.out && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
"$bin" run r.md > out 2>&1 || fail "the run after the kill failed"
grep -q 'committed the interrupted run' out || fail "the interrupted run was not committed"
rd=$(git -C audit ls-tree -r --name-only runbook-audit | grep 'slow-.*/report.html$' | head -1)
[ -n "$rd" ] || fail "the interrupted run's record has no report.html"
show_file "$rd" | grep -q 'data-step="wait" data-status="interrupted"' || fail "the interrupted step is not marked so"
git -C audit ls-tree -r --name-only runbook-audit | grep -q 'slow-.*/runbook.md$' && fail "a recovered run got a runbook.md"
echo "report: ok"
