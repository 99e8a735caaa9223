#!/usr/bin/env bash
# check's rule ids and allow=: each finding of --json names its rule (a SQL
# rule's name, runbook's own, shellcheck's SC id; null for the parser's
# errors), so does the GitHub annotation's title; allow= on a shell step
# silences shellcheck ids and runbook's own warnings there, and an unknown
# name is an error with "did you mean". Mistyped step, section, on_failure
# and variable names get "did you mean" too.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "check-rules: $*"; [ -f out ] && cat out; exit 1; }

# --- rule ids in --json and in the annotations ---------------------------------
cat > ids.md <<'MD'
---
titel: Ids
---
# Ids

```bash {name=build timout=5s}
echo build
```

```bash {name=wipe}
rm -rf /var/tmp/scratch
```

```lua gate
return steps.biuld.exit_code == 0
```

```sql {name=index}
CREATE INDEX orders_created ON orders (created_at);
```
MD
"$bin" check --json ids.md > out || true
python3 - out <<'PY' || fail "--json rules"
import json, sys
d = json.load(open(sys.argv[1]))
rules = {(x["line"], x["rule"]) for x in d}
want = {(2, "front-matter-typo"), (6, None), (11, "destructive-command"), (15, "unknown-step"),
        (19, "create-index-not-concurrently")}
assert want <= rules, rules
assert all("rule" in x for x in d), d
unknown = [x for x in d if x["rule"] == "unknown-step"][0]
assert unknown["message"] == "steps.biuld: no step with that id (did you mean 'build'?)", unknown
PY
# The compiler-style lines are as before: a SQL rule's finding ends with its name, runbook's own do not.
"$bin" check ids.md > out || true
grep -q '^ids.md:19:1: warning: CREATE INDEX without CONCURRENTLY .*\[create-index-not-concurrently\]$' out \
  || fail "a SQL rule's line changed"
grep -qx 'ids.md:11:1: warning: destructive command (rm -rf) outside a handler or manual section: add confirm to the step' out \
  || fail "runbook's own finding changed"
GITHUB_ACTIONS=true "$bin" check ids.md > out || true
grep -qx "::error file=ids.md,line=15,col=1,title=runbook check \[unknown-step\]::steps.biuld: no step with that id (did you mean 'build'?)" out \
  || fail "annotation title without the rule"
grep -qx "::error file=ids.md,line=6,col=21,title=runbook check::unknown attribute 'timout' (did you mean 'timeout'?)" out \
  || fail "a parser error's annotation got a rule"

# --- shellcheck's ids ------------------------------------------------------------
if command -v shellcheck > /dev/null; then
  printf '# T\n\n```bash {name=a}\ncd $SOMEWHERE || exit 1\n```\n' > sc.md
  "$bin" check --json sc.md > out || true
  python3 - out <<'PY' || fail "shellcheck's id"
import json, sys
d = json.load(open(sys.argv[1]))
sc = [x for x in d if x["message"].startswith("shellcheck: ")]
assert sc and sc[0]["rule"] == "SC2086" and (sc[0]["line"], sc[0]["col"]) == (4, 4), d
PY
  sed 's/{name=a}/{name=a allow=SC2086,SC9999}/' sc.md > sc-allowed.md
  "$bin" check --json sc-allowed.md > out || true
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert not [x for x in d if x["rule"] and x["rule"].startswith("SC")], d' out \
    || fail "allow=SC2086 did not silence shellcheck"
fi

# --- allow= on shell steps ---------------------------------------------------------
cat > allow.md <<'MD'
# Allow

```bash {name=wipe allow=destructive-command,undefined-shell-variable}
rm -rf "/var/tmp/$SCRATCH_DIR"
```

```bash {name=last allow=unclosed-fence}
echo finished
MD
"$bin" check --strict allow.md > out || fail "allow= on shell steps did not silence"
sed 's/allow=destructive-command,undefined-shell-variable/allow=destructive-comand,hidden-character/' allow.md > typo.md
rc=0; "$bin" check typo.md > out || rc=$?
[ "$rc" = 2 ] || fail "an unknown allow= name: exit $rc"
grep -qx "typo.md:3:26: error: allow=: no lint rule 'destructive-comand' (did you mean 'destructive-command'?) (runbook check --list-rules lists them)" out \
  || fail "unknown name"
grep -q "^typo.md:3:45: error: allow=: 'hidden-character' cannot be silenced" out || fail "an error's rule"
grep -q '^typo.md:4:1: warning: destructive command (rm -rf)' out || fail "the misspelt allow= silenced"
printf '# T\n\n```lua {allow=lua-syntax}\nreturn 1\n```\n' > lua.md
rc=0; "$bin" check lua.md > out || rc=$?
[ "$rc" = 2 ] && grep -q "attribute 'allow' applies only to bash and sql steps" out || fail "allow= on a lua step"
"$bin" check --list-rules > out
for r in destructive-command undefined-shell-variable unclosed-fence create-index-not-concurrently; do
  grep -q "^$r " out || fail "--list-rules does not name $r"
done
! grep -q '^hidden-character ' out || fail "--list-rules names an error"

# --- did you mean ---------------------------------------------------------------------
cat > mean.md <<'MD'
---
on_failure: rollbak
manual: [Clean-up]
env:
  RELEASE: v1
---
# Mean

```sql {name=deploy}
SELECT :'RELAESE';
```

```bash {name=tag}
echo "$RELEAS"
```

# Rollback

```bash
echo back
```

# Cleanup

```bash
echo clean
```
MD
"$bin" check mean.md > out || true
grep -qx "mean.md:2:13: error: on_failure: no section 'rollbak' in this runbook (did you mean 'rollback'?)" out || fail "on_failure"
grep -qx "mean.md:3:10: error: manual: no section 'Clean-up' in this runbook (did you mean 'cleanup'?)" out || fail "manual"
grep -q "^mean.md:10:8: error: undefined variable :RELAESE (did you mean 'RELEASE'?)" out || fail ":VAR"
grep -q "^mean.md:14:8: warning: \$RELEAS is used but nothing defines it (did you mean 'RELEASE'?)" out || fail '$VAR'
printf '# T\n\n```bash {name=deploy}\necho\n```\n' > plan.md
"$bin" plan --fail-at deplyo plan.md > out
grep -qx "If 'deplyo' fails: no such step in the main flow (did you mean 'deploy'?)" out || fail "plan --fail-at"
# Nothing near enough: no suggestion.
sed 's/rollbak/zzzzzz/' mean.md > far.md
"$bin" check far.md > out || true
grep -qx "far.md:2:13: error: on_failure: no section 'zzzzzz' in this runbook" out || fail "a far name got a suggestion"
echo "check-rules ok"
