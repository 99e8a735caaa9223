#!/usr/bin/env bash
# run --junit FILE: every report validates against the JUnit schema the
# Jenkins xunit plugin uses (junit/junit-10.xsd), and says what the run
# did: one testcase a runnable step of the main flow (documentation and
# skip blocks are none), failures with file:line:col, steps never reached
# or not selected as skipped with the reason, handler and undo steps that
# ran, abort conditions, retries as flaky/rerun failures, a run that failed
# outside any step as an error. Hostile output (markup, quotes, ESC, bytes
# that are not UTF-8) stays well-formed; a secret never reaches the file.
# A report that cannot be written stops the run before its first step.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
xsd=$here/junit/junit-10.xsd
dir=$(mktemp -d)
trap 'chmod -R u+w "$dir" 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

# Without xmllint (Debian: libxml2-utils) nothing here would be checked.
command -v xmllint > /dev/null || fail "xmllint is not installed (Debian package libxml2-utils)"
[ -s "$xsd" ] || fail "the schema $xsd is missing"

valid() { # FILE: validates against the schema
	xmllint --noout --schema "$xsd" "$1" > /dev/null 2> xmlerr || fail "$1 does not validate: $(cat xmlerr)"
}
xp() { # FILE XPATH: the value (empty when nothing matches)
	xmllint --xpath "$2" "$1" 2> /dev/null || true
}
is() { # FILE XPATH EXPECTED WHAT
	local got
	got=$(xp "$1" "$2")
	[ "$got" = "$3" ] || fail "$4: $2 is '$got', expected '$3'"
}
counts() { # FILE TESTS FAILURES ERRORS SKIPPED: the suite's counts, and as many testcase elements
	is "$1" 'string(/testsuites/testsuite/@tests)' "$2" "$1: tests"
	is "$1" 'string(/testsuites/testsuite/@failures)' "$3" "$1: failures"
	is "$1" 'string(/testsuites/testsuite/@errors)' "$4" "$1: errors"
	is "$1" 'string(/testsuites/testsuite/@skipped)' "$5" "$1: skipped"
	is "$1" 'count(//testcase)' "$2" "$1: testcase elements"
	is "$1" 'count(//testcase[failure])' "$3" "$1: testcases with a failure"
	is "$1" 'count(//testcase[error])' "$4" "$1: testcases with an error"
	is "$1" 'count(//testcase[skipped])' "$5" "$1: testcases skipped"
}
line_of() { # FILE PATTERN: the line number of the first line that starts with PATTERN
	grep -n -m1 -F -- "$2" "$1" | cut -d: -f1
}

# 0. The schema is not vacuous: a suite without its required counts is refused.
printf '<testsuite name="x"><testcase name="a"/></testsuite>\n' > bad.xml
if xmllint --noout --schema "$xsd" bad.xml > /dev/null 2>&1; then
	fail "the schema accepts a testsuite without tests/failures/errors"
fi

# 1. Success: documentation and skip blocks are not test cases; output kept;
#    a step whose when= is false is skipped.
cat > ok.md <<'MD'
---
title: All good
---
# All good

```text
just words
```

## Build

```bash {name=build}
echo building
```

```bash {name=not-now skip}
echo skipped block
```

```bash {name=ship}
echo shipping
```

```bash {name=full-only when="vars.MODE == 'full'"}
echo full
```
MD
"$bin" run --junit ok.xml ok.md > out 2> err || fail "ok.md failed"
valid ok.xml
counts ok.xml 3 0 0 1
is ok.xml 'string(//testcase[@name="full-only"]/skipped/@message)' "when=vars.MODE == 'full' is false" "when= false"
is ok.xml 'string(/testsuites/testsuite/@name)' 'All good' "suite name"
is ok.xml 'string(//testcase[1]/@name)' 'build' "first testcase"
is ok.xml 'string(//testcase[2]/@name)' 'ship' "second testcase"
is ok.xml 'string(//testcase[@name="build"]/@classname)' 'All good › Build' "classname: title and section path"
is ok.xml 'string(//testcase[@name="ship"]/system-out)' 'shipping' "system-out"
is ok.xml 'string(/testsuites/testsuite/@file)' 'ok.md' "suite file"
is ok.xml 'string(//property[@name="exit_code"]/@value)' '0' "exit_code property"
xp ok.xml 'string(/testsuites/testsuite/@timestamp)' | grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' ||
	fail "timestamp: $(xp ok.xml 'string(/testsuites/testsuite/@timestamp)')"
[ -n "$(xp ok.xml 'string(/testsuites/testsuite/@hostname)')" ] || fail "no hostname"
xp ok.xml 'string(//testcase[@name="build"]/@time)' | grep -Eqx '[0-9]+\.[0-9]{3}' || fail "time is not seconds"
ls -a | grep -q '\.tmp$' && fail "a temporary file was left: $(ls -a)"

# 2. A failing step with hostile output and a secret; a retried step that
#    passed; an undo; the handler; a step never reached.
cat > fail.md <<'MD'
---
title: Deploy <app> & "friends"
on_failure: Roll back
---
# Deploy

## Prepare

```bash {name=prep}
echo preparing
```

```bash {name=flaky retry=2}
if [ ! -e tried ]; then touch tried; echo first try fails; exit 7; fi
echo second try ok
```

```bash undo
echo undoing flaky
```

## Migrate

```bash {name=migrate}
printf 'hostile <script>&"'"'"' \033[31mred\033[0m \xff\xfe bad\n'
echo "secret: $DB_PASSWORD"
exit 3
```

```bash {name=after}
echo never
```

## Roll back

```bash {name=notify}
echo "rolled back $FAILED_STEP"
```
MD
rc=0
"$bin" run --junit fail.xml --set DB_PASSWORD=hunter2-Zq9-s3cret fail.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "fail.md: expected exit 1, got $rc"
valid fail.xml
counts fail.xml 6 1 0 1
is fail.xml 'string(/testsuites/testsuite/@name)' 'Deploy <app> & "friends"' "a title with markup and quotes"
mig=$(line_of fail.md '```bash {name=migrate}')
flk=$(line_of fail.md '```bash {name=flaky')
is fail.xml 'string(//testcase[@name="migrate"]/failure/@message)' "fail.md:$mig:1: failed with exit code 3" "failure message"
is fail.xml 'string(//testcase[@name="migrate"]/failure/@type)' 'exit 3' "failure type"
xp fail.xml 'string(//testcase[@name="migrate"]/failure)' | grep -qF 'hostile <script>&"'"'" ||
	fail "the failure does not end with the step's output"
is fail.xml 'string(//testcase[@name="after"]/skipped/@message)' "not reached: the run stopped at 'migrate' (exit 1)" "not reached"
is fail.xml 'count(//testcase[@name="flaky"]/failure)' 0 "the retried step passed"
is fail.xml 'string(//testcase[@name="flaky"]/flakyFailure/@message)' \
	"attempt 1 of 3: fail.md:$flk:1: failed with exit code 7" "the failed attempt"
is fail.xml 'string(//testcase[@name="flaky.undo"]/@classname)' 'Deploy <app> & "friends" (undo) › Deploy › Prepare' "undo classname"
is fail.xml 'string(//testcase[@name="notify"]/@classname)' 'Deploy <app> & "friends" (on failure) › Deploy › Roll back' "handler classname"
is fail.xml 'string(//testcase[@name="notify"]/system-out)' 'rolled back migrate' "handler output"
is fail.xml 'string(//testcase[6]/@name)' 'notify' "handler last (after the main flow and the undo)"
out=$(xp fail.xml 'string(//testcase[@name="migrate"]/system-out)')
grep -qF 'hostile <script>&"'"'" <<< "$out" || fail "markup and quotes did not round-trip: $out"
grep -qF '\e[31mred\e[0m' <<< "$out" || fail "ESC is not shown as \\e: $out"
grep -qF $'\xef\xbf\xbd\xef\xbf\xbd bad' <<< "$out" || fail "bytes that are not UTF-8 are not U+FFFD: $out"
grep -qx 'secret: .*' <<< "$out" || fail "the secret's line is missing: $out"
LC_ALL=C grep -q $'\033' fail.xml && fail "a raw ESC byte is in the report"
grep -q 'hunter2-Zq9-s3cret' fail.xml && fail "the secret is in the report"
grep -q 'hunter2-Zq9-s3cret' out && fail "the secret is on the terminal"

# 3. A gate says no: exit 3, the gate fails as refused, the rest not reached.
cat > gate.md <<'MD'
# Gated

```bash {name=one}
echo one
```

```lua gate {name=window}
return false, "outside the window"
```

```bash {name=two}
echo two
```
MD
rc=0
"$bin" run --junit gate.xml gate.md > out 2> err || rc=$?
[ "$rc" = 3 ] || fail "gate.md: expected exit 3, got $rc"
valid gate.xml
counts gate.xml 3 1 0 1
win=$(line_of gate.md '```lua gate {name=window}')
is gate.xml 'string(//testcase[@name="window"]/failure/@message)' "gate.md:$win:1: gate closed: outside the window" "gate message"
is gate.xml 'string(//testcase[@name="window"]/failure/@type)' 'refused' "gate failure type"
is gate.xml 'string(//testcase[@name="two"]/skipped/@message)' "not reached: the run stopped at 'window' (exit 3)" "after the gate"

# 4. --from: the steps before it are not selected.
cat > from.md <<'MD'
# Partial

```bash {name=one}
echo one
```

```bash {name=two}
echo two
```

```bash {name=three}
echo three
```
MD
"$bin" run --junit from.xml --from two from.md > out 2> err || fail "from.md failed"
valid from.xml
counts from.xml 3 0 0 1
is from.xml 'string(//testcase[@name="one"]/skipped/@message)' 'not selected (--from/--only)' "--from"
is from.xml 'string(//testcase[@name="three"]/system-out)' 'three' "the steps after --from ran"

# 5. A retried step that fails every time: the failure and the earlier attempt.
cat > retry.md <<'MD'
# Retry

```bash {name=always retry=1}
echo "try"
exit 2
```
MD
rc=0
"$bin" run --junit retry.xml retry.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "retry.md: expected exit 1, got $rc"
valid retry.xml
counts retry.xml 1 1 0 0
alw=$(line_of retry.md '```bash {name=always')
is retry.xml 'count(//testcase[@name="always"]/rerunFailure)' 1 "the earlier attempt"
is retry.xml 'string(//testcase[@name="always"]/rerunFailure/@message)' "attempt 1 of 2: retry.md:$alw:1: failed with exit code 2" "rerun message"
is retry.xml 'string(//testcase[@name="always"]/failure/@message)' "retry.md:$alw:1: failed with exit code 2" "last attempt"

# 6. An abort condition fires between steps: it fails (type abort), the rest is not reached.
cat > abort.md <<'MD'
# Abort

```lua abort {name=stop every=100ms}
return file.exists("STOP"), "STOP is there"
```

```bash {name=one}
touch STOP
```

```bash {name=two}
echo two
```
MD
rc=0
"$bin" run --junit abort.xml abort.md > out 2> err || rc=$?
[ "$rc" = 4 ] || fail "abort.md: expected exit 4, got $rc"
valid abort.xml
counts abort.xml 3 1 0 1
stp=$(line_of abort.md '```lua abort')
is abort.xml 'string(//testcase[@name="stop"]/failure/@type)' 'abort' "abort type"
is abort.xml 'string(//testcase[@name="stop"]/failure/@message)' "abort.md:$stp:1: abort condition 'stop' fired: STOP is there" "abort message"
is abort.xml 'string(//testcase[@name="two"]/skipped/@message)' "not reached: abort condition 'stop' fired (exit 4)" "after the abort"

# 7. The run fails before any step (an interpreter that is not installed): one <error>.
cat > env.md <<'MD'
# Env

```bash {name=one interpreter=/nonexistent/zsh}
echo one
```
MD
rc=0
"$bin" run --junit env.xml env.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "env.md: expected exit 5, got $rc"
valid env.xml
counts env.xml 2 0 1 1
is env.xml 'string(//testcase[error]/@name)' '(run)' "the run's error case"
is env.xml 'string(//testcase[error]/error/@type)' 'exit 5' "error type"
xp env.xml 'string(//testcase[error]/error/@message)' | grep -q "^env.md:3:1: .*not installed" || fail "error message"

# 8. Long output (the engine keeps its first 16 KiB): the failure shows the
#    end as it streamed and says how much came before; system-out is bounded.
cat > long.md <<'MD'
# Long

```bash {name=noisy}
for i in $(seq 1 5000); do echo "line $i of the output"; done
exit 1
```
MD
rc=0
"$bin" run --junit long.xml long.md > long.out 2> err || rc=$?
[ "$rc" = 1 ] || fail "long.md: expected exit 1, got $rc"
valid long.xml
xp long.xml 'string(//testcase[@name="noisy"]/failure)' > failure.txt
grep -q '^\[\.\.\. [0-9]* bytes before these not shown\]$' failure.txt || fail "the cut is not said: $(head -5 failure.txt)"
grep -qx 'line 5000 of the output' failure.txt || fail "the end of the output is missing"
[ "$(wc -c < failure.txt)" -lt 6000 ] || fail "the failure's output is not bounded: $(wc -c < failure.txt) bytes"
xp long.xml 'string(//testcase[@name="noisy"]/system-out)' > system-out.txt
grep -qx 'line 1 of the output' system-out.txt || fail "system-out does not start with the output"
[ "$(wc -c < system-out.txt)" -lt 70000 ] || fail "system-out is not bounded: $(wc -c < system-out.txt) bytes"

# 9. A report that cannot be written: the run stops before its first step (exit 5).
cat > touch.md <<'MD'
# Touch

```bash {name=touch}
touch ran
```
MD
rc=0
"$bin" run --junit "$dir/missing/r.xml" touch.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "missing directory: expected exit 5, got $rc"
grep -qF -- "--junit $dir/missing/r.xml" err || fail "the message does not name the path"
grep -qF "$dir/missing" err || fail "the message does not name the directory"
[ ! -e ran ] || fail "a step ran although the report could not be written"
rc=0
"$bin" run --junit "$dir" touch.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "a directory as the report: expected exit 5, got $rc"
grep -q 'is a directory' err || fail "a directory as the report: no message"
[ ! -e ran ] || fail "a step ran although the report is a directory"

# 10. An existing report is replaced whole.
printf 'old report\n' > again.xml
"$bin" run --junit again.xml ok.md > out 2> err || fail "ok.md (again) failed"
valid again.xml
grep -q 'old report' again.xml && fail "the old report was not replaced"
ls -a | grep -q '\.tmp$' && fail "a temporary file was left: $(ls -a)"
# 11. The report's directory disappears during the run: the run says so and exits 5.
mkdir reports
cat > vanish.md <<'MD'
# Vanish

```bash {name=vanish}
rm -rf reports
```
MD
rc=0
"$bin" run --junit reports/r.xml vanish.md > out 2> err || rc=$?
[ "$rc" = 5 ] || fail "a report that could not be written: expected exit 5, got $rc"
grep -q "junit: cannot write reports/r.xml: .*No such file or directory" err || fail "the write error is not said"
echo "junit: ok"
