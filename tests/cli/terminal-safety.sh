#!/usr/bin/env bash
# Hostile documents: what runbook shows about a document is what runs.
# Escape sequences and bidirectional controls written in a runbook reach no
# terminal raw (plan, run --dry-run, diagnostics), check rejects them inside
# anything that runs, run refuses such a runbook before step 1, and the plan
# shows no password of a connection string and no secret variable's value.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
export LC_ALL=C
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "FAIL: $*"; for f in out err; do [ -f $f ] && { echo "--- $f"; od -c $f | head -40; }; done; exit 1; }
esc=$'\x1b'
rlo=$'\xe2\x80\xae'
no_raw() { # file what: no raw ESC, BEL, CR or bidi override in file
  ! grep -q "$esc" "$1" || fail "$2: a raw ESC byte reaches the terminal"
  ! grep -q $'\x07' "$1" || fail "$2: a raw BEL byte reaches the terminal"
  ! grep -q $'\r' "$1" || fail "$2: a raw CR byte reaches the terminal"
  ! grep -q "$rlo" "$1" || fail "$2: a raw U+202E reaches the terminal"
}

# 1. The review bypass: the terminal would show "| echo harmless", rm -rf runs.
printf '# Cleanup\n\n```bash {name=marker}\ntouch marker\n```\n\n```bash {name=cleanup}\nrm -rf /x # \033[2K \033[G | echo harmless\n```\n' > bypass.md
"$bin" plan bypass.md > out 2> err || fail "plan bypass.md failed"
no_raw out "plan"
grep -qF 'rm -rf /x # \e[2K \e[G | echo harmless' out || fail "plan does not show the escape sequence as text"
"$bin" plan --json bypass.md > out 2> err || fail "plan --json bypass.md failed"
no_raw out "plan --json"
grep -qF '"body": "rm -rf /x # \u001b[2K \u001b[G | echo harmless\n"' out || fail "plan --json body"
"$bin" run --dry-run bypass.md > out 2> err || fail "run --dry-run bypass.md failed"
no_raw out "run --dry-run"
grep -qF '\e[2K' out || fail "run --dry-run does not show the escape sequence"

rc=0; "$bin" check bypass.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "check bypass.md: expected exit 2, got $rc"
cat err >> out
no_raw out "check"
grep -qF 'bypass.md:8:13: error: hidden character in an executable block: escape character (ESC) (shown as \e)' out ||
  fail "check: no error at 8:13 for the first ESC"
grep -qF 'bypass.md:8:18: error: hidden character in an executable block: escape character (ESC)' out ||
  fail "check: no error at 8:18 for the second ESC"

# run refuses it before step 1: the marker step does not run, nothing is removed.
mkdir victim
printf '# Cleanup\n\n```bash {name=marker}\ntouch marker\n```\n\n```bash {name=cleanup}\nrm -rf victim # \033[2K\033[G | echo harmless\n```\n' > run.md
rc=0; "$bin" run --audit-repo "$audit" run.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "run: expected exit 2 (pre-flight), got $rc"
[ ! -e marker ] || fail "run: step 1 ran although the runbook hides characters"
[ -d victim ] || fail "run: the hidden rm -rf ran"
no_raw err "run's pre-flight diagnostics"
grep -qF 'run.md:8:17: error: hidden character in an executable block: escape character (ESC)' err ||
  fail "run: the pre-flight does not name the hidden character"

# 2. Trojan Source: a right-to-left override inside a bash block.
printf '# Access\n\n```bash {name=marker}\ntouch marker\n```\n\n- Check:\n\n  ```bash {name=check}\n  access_level=user\n  if [ "$access_level" != "user\xe2\x80\xae \xe2\x81\xa6# admin\xe2\x81\xa9 \xe2\x81\xa6" ]; then echo admin; fi\n  ```\n' > trojan.md
"$bin" plan trojan.md > out 2> err || fail "plan trojan.md failed"
no_raw out "plan (Trojan Source)"
grep -qF '"user\u202e \u2066# admin\u2069 \u2066" ]' out || fail "plan does not show the bidi controls as text"
"$bin" plan --json trojan.md > out 2> err || fail "plan --json trojan.md failed"
no_raw out "plan --json (Trojan Source)"
! grep -q $'\xe2\x81' out || fail "plan --json: a raw isolate reaches the terminal"
grep -qF 'user\u202e \u2066# admin\u2069 \u2066' out || fail "plan --json does not escape the bidi controls"
rc=0; "$bin" check trojan.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check trojan.md: expected exit 2, got $rc"
no_raw out "check (Trojan Source)"
grep -qF 'trojan.md:11:32: error: hidden character in an executable block: right-to-left override U+202E (shown as \u202e)' out ||
  fail "check: no error at 11:32 for U+202E"
grep -qF 'trojan.md:11:36: error: hidden character in an executable block: Unicode bidirectional control character (shown as \u2066)' out ||
  fail "check: no error at 11:36 (bytes, as every column) for U+2066"
[ "$(grep -c 'hidden character' out)" = 4 ] || fail "check: expected 4 hidden characters"
rc=0; "$bin" run --audit-repo "$audit" trojan.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "run trojan.md: expected exit 2, got $rc"
[ ! -e marker ] || fail "run trojan.md: step 1 ran"

# 3. Escapes in a heading, a task list and an attribute are shown, not obeyed;
#    one in an attribute of a step is an error too, even written as a reference.
printf '# Deploy \033]0;owned\007now\n\n## Step \033[8mhidden\033[0m\n\n- [ ] ok \033[2K\n\n```bash {name=a cwd=&#27;tmp}\necho a\n```\n\n```text\ndocumentation \033[31m is not checked\n```\n' > title.md
"$bin" plan title.md > out 2> err || fail "plan title.md failed"
no_raw out "plan (heading)"
grep -qF 'Plan: Deploy \e]0;owned\x07now' out || fail "plan does not show the title's OSC as text"
grep -qF 'Step \e[8mhidden\e[0m' out || fail "plan does not show the section's escapes as text"
grep -qF '[ ] ok \e[2K' out || fail "plan does not show the task's escape as text"
grep -qF 'cwd=\etmp' out || fail "plan does not show the attribute's escape as text"
"$bin" plan --json title.md > out 2> err || fail "plan --json title.md failed"
no_raw out "plan --json (heading)"
rc=0; "$bin" check title.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check title.md: expected exit 2, got $rc"
no_raw out "check (heading)"
grep -qF "title.md:7:17: error: hidden character in the attribute 'cwd' (written as an escape): escape character (ESC)" out ||
  fail "check: the escape written as &#27; in an attribute is not an error"
[ "$(grep -c 'hidden character' out)" = 1 ] || fail "check: headings, tasks and documentation are not executable"

# Line endings are not hidden characters: a CRLF runbook with tabs checks clean.
printf -- '---\r\ntitle: Windows\r\n---\r\n# Windows\r\n\r\n```bash\r\nif true; then\r\n\techo hi\r\nfi\r\n```\r\n' > crlf.md
"$bin" check crlf.md > out 2>&1 || fail "check: a CRLF runbook is not hostile"
# ... but a lone CR inside a block is: cat would show "echo two" only.
printf '# Lone\n\n```bash\necho one\recho two\n```\n' > lone.md
rc=0; "$bin" check lone.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check lone.md: expected exit 2, got $rc"
grep -qF 'lone.md:4:9: error: hidden character in an executable block: carriage return (shown as \x0d)' out ||
  fail "check: no error for a lone CR"

# 4. The plan shows no password and no secret value.
cat > secrets.md <<'MD'
---
title: Secrets
database: postgresql://app:hunter2-pw@localhost/app
databases:
  reports: host=localhost dbname=reports user=rep password=kw-pass-77
env:
  API_TOKEN: tok-123456
  PLAIN: visible-value
secrets: [API_TOKEN]
---
# Secrets

```bash
curl -H "Authorization: tok-123456" https://example.invalid/
```

```sql {db=reports}
select 1;
```
MD
for mode in "" --json; do
  "$bin" plan $mode secrets.md > out 2> err || fail "plan $mode secrets.md failed"
  for secret in hunter2-pw tok-123456 kw-pass-77; do
    ! grep -q "$secret" out err || fail "plan $mode prints the secret $secret"
  done
  grep -qF 'postgresql://app:***@localhost/app' out || fail "plan $mode: the database is not shown with *** for its password"
  grep -qF 'password=***' out || fail "plan $mode: the keyword password is not shown as ***"
done
grep -qF '"API_TOKEN": "***"' out || fail "plan --json: the secret variable is not shown as ***"
grep -qF '"PLAIN": "visible-value"' out || fail "plan --json: an ordinary variable is hidden"
"$bin" run --dry-run secrets.md > out 2> err || fail "run --dry-run secrets.md failed"
! grep -qE 'hunter2-pw|tok-123456|kw-pass-77' out err || fail "run --dry-run prints a secret"
echo "terminal safety: ok"
