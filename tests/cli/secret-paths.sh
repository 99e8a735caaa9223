#!/usr/bin/env bash
# The paths a secret used to slip through: server notices and error details,
# an abort condition's reason, a password expanded into a connection string,
# the command line (ps), a resumed capture; and the ways to pass a secret
# that ps cannot see (--set-env, --secrets-file).
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
objects() { git --git-dir="$audit" cat-file --batch-all-objects --batch > objects.txt; }
nowhere() { # nowhere VALUE...: not on the terminal, not in any git object, not in the audit dir
  objects
  for v in "$@"; do
    grep -q -- "$v" out err && fail "$v reached the terminal"
    grep -aq -- "$v" objects.txt && fail "$v reached a git object"
    grep -rq -- "$v" "$audit" && fail "$v is in the audit repository"
  done
  return 0
}

# 1. Notices, warnings and error details from the server; an abort reason.
cat > server.md <<'MD'
---
secrets: [API_TOKEN]
on_failure: After
---
# Server messages

```sql {name=notice}
SELECT set_config('app.tok', :'API_TOKEN', false) IS NOT NULL AS stored;
DO $$ BEGIN
  RAISE NOTICE 'token is %', current_setting('app.tok');
  RAISE WARNING 'again %', current_setting('app.tok');
END $$;
```

```sql {name=detail expect_error=P0001}
DO $$ BEGIN
  RAISE EXCEPTION 'failing %', current_setting('app.tok')
    USING DETAIL = 'detail ' || current_setting('app.tok'), HINT = 'hint ' || current_setting('app.tok');
END $$;
```

```lua abort {name=watch}
return vars.API_TOKEN ~= nil and file.exists("trip"), "tripped with " .. vars.API_TOKEN
```

```bash {name=trip}
touch trip
```

```bash {name=never}
echo never
```

## After

```bash
echo "after: $FAILURE_REASON"
```

```sql {name=handler-error}
DO $$ BEGIN
  RAISE EXCEPTION 'handler %', current_setting('app.tok') USING DETAIL = 'd ' || current_setting('app.tok');
END $$;
```
MD
rc=0; API_TOKEN=tok-sEcReT-4711 "$bin" run --audit-repo "$audit" --ephemeral-db --set-env API_TOKEN server.md > out 2> err < /dev/null || rc=$?
[ "$rc" = 4 ] || fail "server.md: expected the abort to fire (4), got $rc"
grep -q 'NOTICE:  token is \*\*\*' err || fail "the notice was not shown redacted"
grep -q 'WARNING:  again \*\*\*' err || fail "the warning was not shown redacted"
grep -q "abort condition 'watch' fired: tripped with \*\*\*" err || fail "the abort reason was not redacted"
grep -qx 'after: tripped with \*\*\*' out || fail "FAILURE_REASON not redacted"
grep -q "step 'handler-error': ERROR P0001: handler \*\*\*" err || fail "the error message was not redacted"
grep -q 'd \*\*\*' err || fail "the error's DETAIL was not shown redacted"
nowhere tok-sEcReT-4711
rm -f trip

# 2. A password that reaches a connection string through ${VAR}, with a name
#    that does not look secret: hidden from the start (the record's --set
#    event included).
cat > dsn.md <<'MD'
---
database: postgresql:///postgres?password=${DBP}
---
# DSN

```sql
SELECT 1 AS connected;
```

```bash
echo "dbp is $DBP"
sleep 1
```
MD
"$bin" run --audit-repo "$audit" --ephemeral-db --set DBP=pw-in-dsn-9931 dsn.md > out 2> err &
pid=$!
wait "$pid" || fail "dsn.md failed"
grep -qx 'dbp is \*\*\*' out || fail "the expanded DSN password was not redacted"
nowhere pw-in-dsn-9931

# 3. ps: a secret-looking --set is scrubbed from the command line and warned
#    about; --set-env and a 0600 --secrets-file keep it out of argv entirely.
cat > ps.md <<'MD'
# ps

```bash
echo "have ${DB_PASSWORD:-none} ${OTHER:-none}"
sleep 1
```
MD
"$bin" run --audit-repo "$audit" --set DB_PASSWORD=argv-secret-5521 ps.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -q 'have' out && break; sleep 0.05; done
tr '\0' ' ' < "/proc/$pid/cmdline" > cmdline
wait "$pid"
grep -q argv-secret-5521 cmdline && fail "ps still shows the --set secret: $(cat cmdline)"
grep -q 'warning: --set DB_PASSWORD puts a secret on the command line' err || fail "no warning for a secret --set"
grep -qx 'have \*\*\* none' out || fail "the scrubbed --set value did not reach the step"
nowhere argv-secret-5521
printf 'OTHER=file-secret-7781\n# a comment\n\nDB_PASSWORD=file-pw-1123\n' > secrets.env
chmod 644 secrets.env
rc=0; "$bin" run --audit-repo "$audit" --secrets-file secrets.env ps.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "a secrets file readable by others: expected exit 2, got $rc"
grep -q 'chmod 600' err || fail "no advice for the secrets file's mode"
chmod 600 secrets.env
"$bin" run --audit-repo "$audit" --secrets-file secrets.env ps.md > out 2> err || fail "--secrets-file run failed"
grep -qx 'have \*\*\* \*\*\*' out || fail "--secrets-file values not redacted (OTHER is secret because of the file)"
grep -q 'warning' err && fail "a warning for secrets passed safely"
nowhere file-secret-7781 file-pw-1123
DB_PASSWORD=env-pw-8812 "$bin" run --audit-repo "$audit" --set-env DB_PASSWORD ps.md > out 2> err || fail "--set-env run failed"
grep -qx 'have \*\*\* none' out || fail "--set-env value not redacted"
nowhere env-pw-8812
DB_PASSWORD=q7 "$bin" run --audit-repo "$audit" --set-env DB_PASSWORD ps.md > out 2> err || fail "short secret run failed"
grep -q 'warning: a secret value is shorter than 4 characters' err || fail "no warning for a short secret"
grep -qx 'have \*\*\* none' out || fail "a short secret was not hidden"
rc=0; "$bin" run --audit-repo "$audit" --set-env NOT_IN_ENV_X ps.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "--set-env of a missing variable: expected 2, got $rc"

# 4. --resume after a secret was captured: *** is never restored as a value.
cat > resume.md <<'MD'
---
secrets: [SESSION_KEY]
---
# Resume a secret

```bash {name=mint capture=SESSION_KEY}
echo minted-key-3141
```

```bash {name=use}
test -e fixed
echo "key length ${#SESSION_KEY}"
```
MD
rc=0; "$bin" run --audit-repo "$audit" resume.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "resume.md should fail at use"
touch fixed
rc=0; "$bin" run --audit-repo "$audit" --resume resume.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "--resume without the secret: expected 2, got $rc"
grep -q 'the secret SESSION_KEY captured by run .* was never stored; give it again with --set-env SESSION_KEY' err \
  || fail "the refusal does not name the variable"
SESSION_KEY=minted-key-3141 "$bin" run --audit-repo "$audit" --resume --set-env SESSION_KEY resume.md > out 2> err \
  || fail "--resume with the secret given failed"
grep -qx 'key length 15' out || fail "the resumed step did not get the real value"
nowhere minted-key-3141
echo "secrets stay out of notices, errors, aborts, DSNs, ps and resumes"
