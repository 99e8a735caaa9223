#!/usr/bin/env bash
# GitHub Actions mode (GITHUB_ACTIONS=true): workflow commands on stdout,
# checked line by line.
# - the secrets are masked (::add-mask::) before anything else is printed, a
#   captured secret as soon as it is known, each line of a multi-line one
#   (but a line too short to be worth hiding everywhere);
#   a clear value is on no other line of stdout or stderr;
# - each step's output is in a ::group:: ... ::endgroup:: pair;
# - the failing step gives one ::error at its fence, the path relative to
#   GITHUB_WORKSPACE; a closed gate one (not two), escaped (% : , newline);
#   a fired abort condition one;
# - GITHUB_STEP_SUMMARY gets a table of the steps, appended; a summary that
#   cannot be written makes the run fail with the reason;
# - without GITHUB_ACTIONS nothing of it;
# - `runbook check` annotates its findings (--github too), JSON stays JSON.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
ws=$dir/ws
mkdir -p "$ws/ops" "$ws/odd,dir:1"
cd "$ws"
fail() { echo "$*"; echo "--- out"; cat -A "$dir/out" 2>/dev/null; echo "--- err"; cat "$dir/err" 2>/dev/null; exit 1; }

# A runner's environment, and nothing from the caller that looks secret.
gh() { # gh [VAR=VALUE...] -- ARGS...: runbook under Actions; stdout in out, stderr in err; sets rc
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  rc=0
  env -i PATH="$PATH" HOME="$dir" LANG=C.UTF-8 RUNBOOK_AUDIT_REPO="$dir/audit" GITHUB_ACTIONS=true \
    GITHUB_WORKSPACE="$ws" GITHUB_STEP_SUMMARY="$dir/summary.md" "${vars[@]}" \
    "$bin" "$@" > "$dir/out" 2> "$dir/err" || rc=$?
}
line_of() { grep -n -m1 "$@" "$dir/out" | cut -d: -f1 || true; } # first line of out matching

cat > ops/deploy.md <<'MD'
---
title: Deploy "the app"
secrets: [TOKEN, CERT]
---
# Deploy

## Prepare

```bash {name=hello}
echo "connecting with $DB_PASSWORD"
printf 'no newline at the end'
```

```bash {name=token capture=TOKEN}
echo "tok-9f8e7d6c5b4a"
```

```bash {name=cert capture=CERT}
printf 'cert-line-one-AAAA\ncert%%line-two-BBBB\n}\n'
```

## Use

```bash {name=use}
echo "token: $TOKEN"
```

```bash {name=boom}
echo "about to fail"
exit 3
```

```bash {name=never}
echo never
```
MD
password=db-pass-4471x
token=tok-9f8e7d6c5b4a
printf '# Earlier step\n\nits summary\n' > "$dir/summary.md"
gh -- run --set "DB_PASSWORD=$password" ops/deploy.md
[ "$rc" = 1 ] || fail "deploy: exit $rc, expected 1"

# The masks first: --set's secret before anything else.
[ "$(sed -n 1p "$dir/out")" = "::add-mask::$password" ] || fail "line 1 is not the mask of DB_PASSWORD"
grep -q '^Running ' <(sed -n 2p "$dir/out") || fail "line 2 is not the start of the run"
# The captured secret: masked after the step ran, before its held output (*** now) shows.
[ "$(grep -cxF "::add-mask::$token" "$dir/out")" = 1 ] || fail "the captured TOKEN is not masked once"
mask=$(line_of -xF "::add-mask::$token")
group=$(line_of -xF '::group::[2/6] Deploy › Prepare › token')
held=$(awk -v g="$group" 'NR > g && $0 == "***" { print NR; exit }' "$dir/out")
used=$(line_of -xF 'token: ***')
[ -n "$group" ] && [ -n "$held" ] && [ -n "$used" ] || fail "the token step or its use is missing"
[ "$group" -lt "$mask" ] && [ "$mask" -lt "$held" ] && [ "$mask" -lt "$used" ] \
  || fail "TOKEN's mask (line $mask) is not between its step's start ($group) and its output ($held, $used)"
# No clear value on any line but its own mask.
for v in "$password" "$token" cert-line-one-AAAA 'cert%line-two-BBBB'; do
  left=$(grep -hF -- "$v" "$dir/out" "$dir/err" "$dir/summary.md" | grep -vxF "::add-mask::$v" || true)
  [ -z "$left" ] || fail "the secret $v is shown: $left"
done
# A multi-line secret: each line masked, escaped; never the value whole.
grep -qxF '::add-mask::cert-line-one-AAAA' "$dir/out" || fail "CERT's first line is not masked"
grep -qxF '::add-mask::cert%25line-two-BBBB' "$dir/out" || fail "CERT's second line is not masked (escaped)"
! grep -q '^::add-mask::.*%0A' "$dir/out" || fail "a multi-line mask"
! grep -qx '::add-mask::}' "$dir/out" || fail "a line of three characters or fewer is masked (every such text in the log)"
[ "$(grep -c '^::add-mask::' "$dir/out")" = 4 ] || fail "not four masks"
echo "masks: first, as soon as known, each line; no clear value"

# Groups: one pair a step that started, the step's header just inside.
grep -E '^::(end)?group::' "$dir/out" | sed 's/^::group::.*/G/; s/^::endgroup::$/E/' | tr -d '\n' > "$dir/pairs"
[ "$(cat "$dir/pairs")" = GEGEGEGEGE ] || fail "groups do not pair up: $(cat "$dir/pairs")"
for s in 'Prepare › hello' 'Prepare › token' 'Prepare › cert' 'Use › use' 'Use › boom'; do
  g=$(grep -n -E "^::group::\[[0-9]/6\] Deploy › $s\$" "$dir/out" | cut -d: -f1)
  [ -n "$g" ] || fail "no group for $s"
  sed -n "$((g + 1))p" "$dir/out" | grep -qE "^\[[0-9]/6\] Deploy › $s \(bash\)\$" || fail "the header of $s is not inside its group"
done
# Every line of a step (header, output, result) is inside a group.
outside=$(awk '/^::group::/ { g = 1; next } /^::endgroup::$/ { g = 0; next }
  !g && !/^(::add-mask::|Running |Stopped |Audit: )/ { print }' "$dir/out")
[ -z "$outside" ] || fail "lines of a step outside its group: $outside"
! grep -qF 'never' "$dir/out" || fail "the step after the failure ran"
# Output without a final newline: the commands still start lines.
grep -qx 'no newline at the end' "$dir/out" || fail "the output's last line is not ended"
echo "groups: a pair around each step"

# The failure: one annotation, at the fence of the failing step.
fence=$(grep -n '^```bash {name=boom}' ops/deploy.md | cut -d: -f1)
[ "$(grep -c '^::error' "$dir/out")" = 1 ] || fail "not exactly one ::error"
grep -qxF "::error file=ops/deploy.md,line=$fence,col=1,title=step 'boom' failed::failed with exit code 3" "$dir/out" \
  || fail "the failing step's annotation is not at ops/deploy.md:$fence:1"
# The terminal's own error line stays.
grep -qF "ops/deploy.md:$fence:1: step 'boom': failed with exit code 3" "$dir/err" || fail "the error line on stderr is gone"
echo "annotation: the failing step at its fence"

# The job summary: appended after what was there, a row a step.
[ "$(head -1 "$dir/summary.md")" = '# Earlier step' ] || fail "the summary file was truncated" "$dir/summary.md"
grep -qxF '### Deploy "the app": failed (exit 1)' "$dir/summary.md" || { cat "$dir/summary.md"; fail "no summary heading"; }
grep -qxF 'Stopped (exit 1): 4 ok, 1 failed, 1 not run' "$dir/summary.md" || { cat "$dir/summary.md"; fail "no summary line"; }
grep -qxF '| step | status | duration | attempts |' "$dir/summary.md" || { cat "$dir/summary.md"; fail "no table"; }
grep -qE '^\| Deploy › Prepare › hello \| ok \| [0-9.]+s \| 1 \|$' "$dir/summary.md" || { cat "$dir/summary.md"; fail "no row for hello"; }
grep -qE '^\| Deploy › Use › boom \| failed \| [0-9.]+s \| 1 \|$' "$dir/summary.md" || { cat "$dir/summary.md"; fail "no row for boom"; }
grep -qxF '| Deploy › Use › never | not reached |  |  |' "$dir/summary.md" || { cat "$dir/summary.md"; fail "no row for never"; }
[ "$(grep -c '^| Deploy › ' "$dir/summary.md")" = 6 ] || { cat "$dir/summary.md"; fail "not six rows"; }
echo "summary: the table, appended"

# A closed gate: one annotation, escaped; the path relative to the workspace, escaped as a property.
cat > 'odd,dir:1/gate.md' <<'MD'
# Gate

```bash {name=first}
echo first
```

```lua gate {name=ready}
return false, "50% done: a, b\nsecond line"
```
MD
fence=$(grep -n '^```lua gate' 'odd,dir:1/gate.md' | cut -d: -f1)
gh -- run --no-audit "$ws/odd,dir:1/gate.md"
[ "$rc" = 3 ] || fail "gate: exit $rc, expected 3"
[ "$(grep -c '^::error' "$dir/out")" = 1 ] || fail "the closed gate: not exactly one ::error"
grep -qxF "::error file=odd%2Cdir%3A1/gate.md,line=$fence,col=1,title=gate 'ready' closed::50%25 done: a, b%0Asecond line" \
  "$dir/out" || fail "the closed gate's annotation is not escaped as expected"
[ "$(grep -c '^| step | status' "$dir/summary.md")" = 2 ] || fail "the second run's summary was not appended"
grep -qxF '### Gate: failed (exit 3)' "$dir/summary.md" || fail "no summary of the gate's run"
echo "gate: one annotation, escaped"

# A fired abort condition.
cat > ops/abort.md <<'MD'
# Abort

```lua abort {name=stop-flag every=100ms}
return true, "the stop flag is up"
```

```bash {name=work}
echo work
```
MD
fence=$(grep -n '^```lua abort' ops/abort.md | cut -d: -f1)
gh -- run --no-audit ops/abort.md
[ "$rc" = 4 ] || fail "abort: exit $rc, expected 4"
grep -qxF "::error file=ops/abort.md,line=$fence,col=1,title=abort condition 'stop-flag' fired::the stop flag is up" \
  "$dir/out" || fail "no annotation of the fired abort condition"
echo "abort: annotated at the condition"

# A step that allows failure: a warning, and the run goes on.
cat > ops/allowed.md <<'MD'
# Allowed

```bash {name=flaky continue_on_error}
exit 1
```

```bash {name=after}
echo after
```
MD
gh -- run --no-audit ops/allowed.md
[ "$rc" = 0 ] || fail "allowed failure: exit $rc"
! grep -q '^::error' "$dir/out" || fail "allowed failure: an ::error"
grep -qxF "::warning file=ops/allowed.md,line=3,col=1,title=step 'flaky' failed (allowed)::failed with exit code 1" "$dir/out" \
  || fail "allowed failure: no warning"
grep -qE '^\| Allowed › flaky \| failed \| ' "$dir/summary.md" || fail "allowed failure: not failed in the summary"
echo "allowed failure: a warning"

# A summary that cannot be written: the run says so and fails.
cat > ops/ok.md <<'MD'
# Fine

```bash {name=fine}
echo fine
```
MD
gh GITHUB_STEP_SUMMARY="$dir/no-such-dir/summary.md" -- run --no-audit ops/ok.md
[ "$rc" = 5 ] || fail "unwritable summary: exit $rc, expected 5"
grep -qF "$dir/no-such-dir/summary.md" "$dir/err" || fail "the summary's failure is not said"
gh GITHUB_STEP_SUMMARY= -- run --no-audit ops/ok.md
[ "$rc" = 0 ] || fail "no summary file: exit $rc"
echo "summary: a write failure fails the run"

# Outside Actions: no workflow command, the summary file untouched.
cp "$dir/summary.md" "$dir/summary.before"
for v in GITHUB_ACTIONS=false GITHUB_ACTIONS=; do
  gh "$v" -- run --set "DB_PASSWORD=$password" ops/deploy.md
  [ "$rc" = 1 ] || fail "$v: exit $rc, expected 1"
  ! grep -q '^::' "$dir/out" "$dir/err" || fail "$v: workflow commands"
  grep -qF "ops/deploy.md:" "$dir/err" || fail "$v: no error line"
done
cmp -s "$dir/summary.md" "$dir/summary.before" || fail "the summary file changed outside Actions"
# run --github: the same commands without the runner's variable.
if "$bin" run --help | grep -q -- '--github'; then
  gh GITHUB_ACTIONS= -- run --github --no-audit ops/abort.md
  grep -q "^::error file=ops/abort.md,line=[0-9]*,col=1,title=abort condition 'stop-flag' fired::" "$dir/out" \
    || fail "run --github: no annotation"
fi
echo "outside Actions: none of it"

# runbook check: its findings annotated, the compiler-style output kept.
cat > ops/lint.md <<'MD'
# Lint

```bash {name=a tiemout=5s}
echo a
```
MD
want="::error file=ops/lint.md,line=3,col=17,title=runbook check::unknown attribute 'tiemout' (did you mean 'timeout'?)"
gh -- check ops/lint.md
[ "$rc" = 2 ] || fail "check: exit $rc, expected 2"
grep -qxF "$want" "$dir/out" || fail "check: no annotation at ops/lint.md:3:17"
grep -qF "ops/lint.md:3:17: error: unknown attribute 'tiemout'" "$dir/out" || fail "check: the diagnostic is gone"
[ "$(grep -c '^::' "$dir/out")" = 1 ] || fail "check: not one annotation"
gh GITHUB_ACTIONS= -- check --github "$ws/ops/lint.md"
grep -qxF "$want" "$dir/out" || fail "check --github: no annotation (absolute path made relative)"
gh GITHUB_ACTIONS= -- check ops/lint.md
! grep -q '^::' "$dir/out" "$dir/err" || fail "check outside Actions: annotations"
gh -- check --json ops/lint.md
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dir/out" || fail "check --json: stdout is not JSON"
grep -qxF "$want" "$dir/err" || fail "check --json: the annotation is not on stderr"
gh -- check ops/ok.md
[ "$rc" = 0 ] && [ ! -s "$dir/out" ] || fail "check of a clean runbook: exit $rc or output"
echo "check: findings annotated"
echo "github ok"
